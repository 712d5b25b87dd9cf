"""Plot the loss landscape and gradient predictiveness logged by
``GCPLandscapeHook`` (the GCP optimization study's Fig. 3, after Santurkar
et al.): at each probed iteration, the band between the minimum and the
maximum over step sizes of ``loss@eta`` and of ``grad_change@eta``.

Reads mmengine's JSON-lines logs (``vis_data/scalars.json`` or the
``<timestamp>.json`` log); lines without ``gcp_landscape/`` keys are skipped.

Example::

    python tools/analysis_tools/plot_gcp_landscape.py \
        work_dirs/gap/*/vis_data/scalars.json \
        work_dirs/gcp/*/vis_data/scalars.json \
        --labels GAP GCP --out landscape.png
"""
import argparse
import json
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

PREFIX = 'gcp_landscape/'
METRICS = (('loss', 'loss landscape'), ('grad_change',
                                         'gradient predictiveness'))


def load_bands(path: str) -> Dict[str, Tuple[np.ndarray, np.ndarray,
                                             np.ndarray]]:
    """Min-max bands over step sizes, per metric.

    Args:
        path (str): A JSON-lines log.

    Returns:
        dict: ``metric -> (steps (T,), min (T,), max (T,))`` for ``loss``
        and ``grad_change``, over the lines that have any ``metric@eta``.
    """
    rows: Dict[str, List[Tuple[int, float, float]]] = {m: [] for m, _ in
                                                       METRICS}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            record = json.loads(line)
            for metric in rows:
                values = [
                    v for k, v in record.items()
                    if k.startswith(f'{PREFIX}{metric}@')
                ]
                if values:
                    rows[metric].append(
                        (int(record['step']), min(values), max(values)))
    bands = {}
    for metric, r in rows.items():
        r.sort()
        arr = np.asarray(r, dtype=np.float64).reshape(-1, 3)
        bands[metric] = (arr[:, 0], arr[:, 1], arr[:, 2])
    return bands


def plot(paths: Sequence[str], labels: Sequence[str], out: str) -> None:
    """Draw one panel per metric with one band per log and save ``out``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(METRICS), figsize=(6 * len(METRICS), 4))
    for path, label in zip(paths, labels):
        bands = load_bands(path)
        for ax, (metric, _) in zip(axes, METRICS):
            steps, lo, hi = bands[metric]
            if steps.size == 0:
                raise ValueError(f'{path} has no {PREFIX}{metric}@<eta> '
                                 'values; was GCPLandscapeHook enabled?')
            ax.fill_between(steps, lo, hi, alpha=0.4, label=label)
    for ax, (metric, title) in zip(axes, METRICS):
        ax.set_title(title)
        ax.set_xlabel('iteration')
        ax.set_ylabel('loss' if metric == 'loss' else
                      '||grad L(w - eta g) - grad L(w)||')
        ax.legend()
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('logs', nargs='+', help='JSON-lines log files')
    parser.add_argument(
        '--labels', nargs='+', help='one label per log (default: the paths)')
    parser.add_argument('--out', default='gcp_landscape.png', help='PNG file')
    args = parser.parse_args(argv)
    if args.labels is None:
        args.labels = args.logs
    if len(args.labels) != len(args.logs):
        parser.error('--labels needs one label per log')
    return args


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    plot(args.logs, args.labels, args.out)


if __name__ == '__main__':
    main()
