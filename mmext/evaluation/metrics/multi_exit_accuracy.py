"""Anytime and budgeted accuracy of a multi-exit classifier."""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from mmext.evaluation.budgeted_batch import anytime_accuracy
from mmext.evaluation.budgeted_batch import evaluate_thresholds
from mmext.models.utils.multi_exit import exit_confidence
from mmext.registry import METRICS
from mmext.utils.validation import check_arg

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
class MultiExitAccuracy(BaseMetric):
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

    Args:
        thresholds (Sequence[float], optional): ``T`` per-step confidence
            thresholds. Defaults to None.
        step_costs (Sequence[float], optional): ``T`` cumulative costs of
            steps ``1..t`` (e.g. from
            :func:`mmext.evaluation.measure_step_costs`); needs
            ``thresholds``. Defaults to None.
        logits_key (str): The data-sample field with the ``(T, C)`` logits.
            Defaults to ``'step_logits'``.
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        prefix (str, optional): Metric name prefix. Defaults to
            ``'multi_exit'``.
    """
    default_prefix = 'multi_exit'

    def __init__(self,
                 thresholds: Optional[Sequence[float]] = None,
                 step_costs: Optional[Sequence[float]] = None,
                 logits_key: str = 'step_logits',
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
        check_arg(self, 'collect_device', collect_device,
                  choices=('cpu', 'gpu'))
        super().__init__(collect_device=collect_device, prefix=prefix)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep each sample's ``(T,)`` confidences, ``(T,)`` predictions
        and label."""
        for sample in data_samples:
            logits = torch.as_tensor(sample[self.logits_key])
            if logits.dim() != 2:
                raise ValueError(
                    f'{type(self).__name__}: data sample field '
                    f'{self.logits_key!r} must be (T, C) logits, got shape '
                    f'{tuple(logits.shape)}')
            conf, pred = exit_confidence(logits)
            label = int(torch.as_tensor(sample['gt_label']).reshape(-1)[0])
            self.results.append((conf.cpu().numpy(), pred.cpu().numpy(),
                                 label))

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        conf = np.stack([c for c, _, _ in results], axis=1)  # (T, N)
        pred = np.stack([p for _, p, _ in results], axis=1)
        correct = pred == np.array([y for _, _, y in results])[None]
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
        return out
