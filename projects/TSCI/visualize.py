r"""Masks over frames of one greedy episode: PNG strips and a GIF per
method, in <work-dir>/vis.

    python projects/TSCI/visualize.py \
        projects/TSCI/configs/tsci_minatar-breakout.py \
        --methods tsci perturbation
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from tsci import visualize  # noqa: E402
from tsci.cli import parse_args, run  # noqa: E402


def main() -> None:
    cfg, work_dir, args = parse_args('visualize', __doc__, agent=True,
                                     mask=True, methods=True)
    visualize(cfg, args.agent, args.mask, osp.join(work_dir, 'vis'),
              args.methods)


if __name__ == '__main__':
    run(main)
