"""Accuracy of few-shot episodes with its 95% confidence interval."""
from collections import defaultdict
from typing import Dict, List, Sequence

import numpy as np

from mmext.registry import METRICS

from .checked_metric import CheckedMetric

__all__ = ['FewShotAccuracy', 'mean_confidence_interval']


def mean_confidence_interval(accuracies: Sequence[float]) -> tuple:
    """``(mean, 1.96 * std / sqrt(E))`` of ``E`` episode accuracies.

    ``std`` is the population standard deviation (ddof 0), as the DeepBDC
    and TAMT ``test.py`` and mmfewshot report it.
    """
    acc = np.asarray(accuracies, dtype=np.float64)
    return float(acc.mean()), float(1.96 * acc.std() / np.sqrt(len(acc)))


@METRICS.register_module()
class FewShotAccuracy(CheckedMetric):
    """Mean episode accuracy (%) and its 95% interval, per run and overall.

    Fed by :class:`mmext.engine.MetaTestLoop`: each processed sample is
    ``dict(accuracy=<percent>, run=<r>)`` for one episode.

    Reports ``accuracy`` (the mean of the runs' means, the authors' final
    figure) and ``ci95`` (the mean of the runs' intervals; with one run, its
    interval); with ``R > 1`` runs also ``run{r}_accuracy`` and
    ``run{r}_ci95``, and ``std_over_runs``.

    Args:
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        prefix (str, optional): Metric name prefix. Defaults to
            ``'few_shot'``.
    """
    default_prefix = 'few_shot'

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            self.results.append(
                (int(sample.get('run', 0)), float(sample['accuracy'])))

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        by_run = defaultdict(list)
        for run, acc in results:
            by_run[run].append(acc)
        stats = {r: mean_confidence_interval(a)
                 for r, a in sorted(by_run.items())}
        means = np.array([m for m, _ in stats.values()])
        out = dict(
            accuracy=float(means.mean()),
            ci95=float(np.mean([c for _, c in stats.values()])),
            num_episodes=float(len(results)))
        if len(stats) > 1:
            for r, (m, c) in stats.items():
                out[f'run{r}_accuracy'] = m
                out[f'run{r}_ci95'] = c
            out['std_over_runs'] = float(means.std())
        return out
