r"""Fidelity of TSCI's masks and of the baselines; writes eval.json and
prints a Markdown table.

    python projects/TSCI/evaluate.py \
        projects/TSCI/configs/tsci_minatar-breakout.py
"""
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from mmengine.fileio import put_text  # noqa: E402
from mmengine.logging import print_log  # noqa: E402

from tsci import evaluate  # noqa: E402
from tsci.cli import parse_args, run  # noqa: E402


def markdown_table(results: dict) -> str:
    """``{row: {column: value}}`` -> a Markdown table (``-`` if absent)."""
    cols = list(dict.fromkeys(k for r in results.values() for k in r))
    lines = ['| method | ' + ' | '.join(cols) + ' |',
             '|---' * (len(cols) + 1) + '|']
    for name, res in results.items():
        cells = [f'{res[c]:.3f}' if c in res else '-' for c in cols]
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main() -> None:
    cfg, work_dir, args = parse_args('evaluate', __doc__, agent=True,
                                     mask=True, methods=True)
    results = evaluate(cfg, args.agent, args.mask, args.methods)
    put_text(json.dumps(results, indent=2), osp.join(work_dir, 'eval.json'))
    print_log('\n' + markdown_table(results), logger='current')


if __name__ == '__main__':
    run(main)
