"""Anytime and budgeted accuracy of a multi-exit classifier."""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from sklearn.metrics import average_precision_score

from mmext.evaluation.budgeted_batch import anytime_accuracy
from mmext.evaluation.budgeted_batch import evaluate_thresholds
from mmext.models.utils.multi_exit import exit_confidence
from mmext.registry import METRICS
from mmext.utils.validation import check_arg

from .checked_metric import CheckedMetric

__all__ = ['MultiExitAccuracy']


def _check_floats(owner, name: str, values, low: Optional[float] = None):
    """None, or a list/tuple of numbers (each checked) as a list."""
    if values is None:
        return None
    check_arg(owner, name, values, (list, tuple))
    return [
        float(check_arg(owner, f'{name}[{i}]', v, float, low=low))
        for i, v in enumerate(values)
    ]


@METRICS.register_module()
class MultiExitAccuracy(CheckedMetric):
    """Top-1 accuracy of every step and, for fixed thresholds, of early exit.

    Each data sample carries ``step_logits`` (key ``logits_key``), the
    ``(T, C)`` logits of its ``T`` steps (e.g. a row of
    :func:`mmext.models.utils.all_steps_predict`), and ``gt_label``.

    Reports ``top1_step{t}`` (``t = 1..T``, %): anytime classification.
    With ``thresholds`` (e.g. one row of the thresholds fitted by
    ``tools/analysis_tools/adaptive_inference.py``), each sample exits at the
    first step whose max-softmax reaches that step's threshold (the last
    takes the rest, MSDNet's rule) and the metric adds ``budgeted_top1``
    (%) and ``exit_fraction_step{t}``; with ``step_costs`` too,
    ``expected_cost`` (per sample, in the unit of ``step_costs``).

    With ``average_precision``, it also reports ``mAP_step{t}`` (%): the
    mean over classes of the average precision (scikit-learn's
    ``average_precision_score``) of the step's softmax scores, ranking the
    samples per class; the positives of a sample are all the labels in its
    ``gt_label`` (top-1 counts the first), classes without positives are
    left out. This is the measure AdaFocusV2 reports on ActivityNet and
    FCVID.

    Args:
        thresholds (Sequence[float], optional): ``T`` per-step confidence
            thresholds. Defaults to None.
        step_costs (Sequence[float], optional): ``T`` cumulative costs of
            steps ``1..t`` (e.g. from
            :func:`mmext.evaluation.measure_step_costs`); needs
            ``thresholds``. Defaults to None.
        logits_key (str): The data-sample field with the ``(T, C)`` logits.
            Defaults to ``'step_logits'``.
        average_precision (bool): Also report the mean average precision of
            every step. Defaults to False.
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        prefix (str, optional): Metric name prefix. Defaults to
            ``'multi_exit'``.
    """
    default_prefix = 'multi_exit'

    def __init__(self,
                 thresholds: Optional[Sequence[float]] = None,
                 step_costs: Optional[Sequence[float]] = None,
                 logits_key: str = 'step_logits',
                 average_precision: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        self.thresholds = _check_floats(self, 'thresholds', thresholds)
        self.step_costs = _check_floats(self, 'step_costs', step_costs, low=0)
        if self.step_costs is not None and (
                self.thresholds is None
                or len(self.step_costs) != len(self.thresholds)):
            raise ValueError(
                f'{type(self).__name__}: step_costs needs thresholds of the '
                f'same length, got {step_costs!r} and {thresholds!r}')
        self.logits_key = check_arg(self, 'logits_key', logits_key, str)
        self.average_precision = check_arg(self, 'average_precision',
                                           average_precision, bool)
        super().__init__(collect_device=collect_device, prefix=prefix)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep each sample's ``(T,)`` confidences, ``(T,)`` predictions
        and labels (and, for the average precision, its ``(T, C)`` softmax
        scores)."""
        for sample in data_samples:
            logits = torch.as_tensor(sample[self.logits_key])
            if logits.dim() != 2:
                raise ValueError(
                    f'{type(self).__name__}: data sample field '
                    f'{self.logits_key!r} must be (T, C) logits, got shape '
                    f'{tuple(logits.shape)}')
            conf, pred = exit_confidence(logits)
            labels = torch.as_tensor(sample['gt_label']).reshape(-1).tolist()
            scores = logits.float().softmax(-1).cpu().numpy() \
                if self.average_precision else None
            self.results.append((conf.cpu().numpy(), pred.cpu().numpy(),
                                 labels, scores))

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        conf = np.stack([r[0] for r in results], axis=1)  # (T, N)
        pred = np.stack([r[1] for r in results], axis=1)
        correct = pred == np.array([r[2][0] for r in results])[None]
        out = {
            f'top1_step{t + 1}': float(acc)
            for t, acc in enumerate(anytime_accuracy(correct))
        }
        if self.thresholds is not None:
            if len(self.thresholds) != conf.shape[0]:
                raise ValueError(
                    f'{type(self).__name__}: {len(self.thresholds)} '
                    f'thresholds for samples with {conf.shape[0]} steps')
            budget = evaluate_thresholds(conf, correct, self.thresholds,
                                         self.step_costs)
            out['budgeted_top1'] = budget['accuracy']
            out.update({
                f'exit_fraction_step{t + 1}': f
                for t, f in enumerate(budget['exit_fractions'])
            })
            if 'expected_cost' in budget:
                out['expected_cost'] = budget['expected_cost']
        if self.average_precision:
            out.update(self._mean_average_precision(results))
        return out

    @staticmethod
    def _mean_average_precision(results: List[tuple]) -> Dict[str, float]:
        """``mAP_step{t}`` (%) over the classes with positives."""
        scores = np.stack([r[3] for r in results], axis=1)  # (T, N, C)
        targets = np.zeros(scores.shape[1:], dtype=bool)
        for i, (_, _, labels, _) in enumerate(results):
            targets[i, labels] = True
        present = targets.any(0)
        return {
            f'mAP_step{t + 1}': 100.0 * float(
                average_precision_score(
                    targets[:, present], step[:, present], average='macro'))
            for t, step in enumerate(scores)
        }
