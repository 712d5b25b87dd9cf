"""Agreement of image-quality scores with quality labels or preferences.

How well an image-quality assessor's scores follow reference qualities:
rank (Spearman, Kendall) and linear (Pearson) correlation, as in
`RISA <https://arxiv.org/abs/2112.04163>`_, and two-image preference
agreement (2AFC): for two images of which one is known to be better, does
the assessor score it higher.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np

from mmext.registry import METRICS

from .checked_metric import CheckedMetric

__all__ = ['QualityCorrelation', 'preference_agreement', 'pairwise_agreement']


def preference_agreement(score_a: Sequence[float], score_b: Sequence[float],
                         prefer_a: Sequence[bool]) -> float:
    """Fraction of two-image preferences the scores agree with.

    A preference counts 1 when the preferred image has the higher score,
    0.5 on a tie of the scores (a coin flip) and 0 otherwise.

    Args:
        score_a (Sequence[float]): ``(P, )`` scores of the first images.
        score_b (Sequence[float]): ``(P, )`` scores of the second images.
        prefer_a (Sequence[bool]): ``(P, )`` whether the first image is the
            preferred one.

    Returns:
        float: Agreement in ``[0, 1]``; NaN without preferences.
    """
    diff = np.asarray(score_a, float) - np.asarray(score_b, float)
    prefer_a = np.asarray(prefer_a, bool)
    if diff.shape != prefer_a.shape or diff.ndim != 1:
        raise ValueError('preference_agreement: expected three sequences of '
                         f'one length, got shapes {diff.shape} and '
                         f'{prefer_a.shape}')
    if not diff.size:
        return float('nan')
    signed = np.where(prefer_a, diff, -diff)
    return float(np.mean((signed > 0) + 0.5 * (signed == 0)))


def pairwise_agreement(scores: Sequence[float],
                       labels: Sequence[float],
                       groups: Optional[Sequence[int]] = None) -> float:
    """Preference agreement over every pair of images with unequal labels.

    The image with the higher label is the preferred one
    (:func:`preference_agreement`). With ``groups``, only images of one
    group are compared (e.g. outputs for the same source and reference).

    Args:
        scores (Sequence[float]): ``(N, )`` scores.
        labels (Sequence[float]): ``(N, )`` quality labels.
        groups (Sequence[int], optional): ``(N, )`` group ids.

    Returns:
        float: Agreement in ``[0, 1]``; NaN without such pairs.
    """
    scores, labels = np.asarray(scores, float), np.asarray(labels, float)
    groups = np.zeros(len(scores), int) if groups is None else np.asarray(
        groups)
    i, j = np.triu_indices(len(scores), k=1)
    keep = (groups[i] == groups[j]) & (labels[i] != labels[j])
    i, j = i[keep], j[keep]
    return preference_agreement(scores[i], scores[j], labels[i] > labels[j])


@METRICS.register_module()
class QualityCorrelation(CheckedMetric):
    """Correlation of predicted quality scores with quality labels.

    Each data sample is a dict with ``pred_score`` (float), ``gt_score``
    (the label, e.g. a normalised training iteration) and, optionally,
    ``group`` (int): pairs for the preference agreement are taken within a
    group only.

    Reports ``srcc`` (Spearman), ``plcc`` (Pearson), ``krcc`` (Kendall's
    tau-b), all from :mod:`scipy.stats`, and ``pair_agreement``
    (:func:`pairwise_agreement`).

    Args:
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        prefix (str, optional): Metric name prefix. Defaults to
            ``'quality'``.
    """
    default_prefix = 'quality'

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep each sample's score, label and group."""
        for sample in data_samples:
            self.results.append((float(sample['pred_score']),
                                 float(sample['gt_score']),
                                 int(sample.get('group', 0))))

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        """Correlations and preference agreement of all samples."""
        from scipy import stats
        if len(results) < 2:
            raise ValueError(f'{type(self).__name__}: need at least 2 '
                             f'samples, got {len(results)}')
        scores, labels, groups = (np.asarray(v) for v in zip(*results))
        return dict(
            srcc=float(stats.spearmanr(scores, labels)[0]),
            plcc=float(stats.pearsonr(scores, labels)[0]),
            krcc=float(stats.kendalltau(scores, labels)[0]),
            pair_agreement=pairwise_agreement(scores, labels, groups))
