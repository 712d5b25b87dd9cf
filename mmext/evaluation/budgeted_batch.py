"""Anytime and budgeted batch classification (MSDNet's protocol).

The protocol of MSDNet's ``dynamic_evaluate`` (Huang et al., ICLR 2018,
Sec. 5), re-used unchanged by GFNet (``inference.py``) and AdaFocusV2
(``ops/early_exit.py``):

1. For a ``p`` of the sweep (``k / 20``, ``k = 1..39``: :data:`P_VALUES`),
   the fraction of samples that exit at step ``t`` is ``q_t ∝ p^t``
   (:func:`geometric_exit_fractions`).
2. Thresholds are fitted on calibration data step by step
   (:func:`fit_thresholds`): among the samples that have not exited yet,
   sorted by decreasing confidence at step ``t``, the threshold is the
   confidence of the ``floor(n q_t)``-th (``n`` calibration samples); every
   sample whose confidence reaches it exits (ties included, so a step may
   take more than ``floor(n q_t)``). When that count is 0, or fewer samples
   are left, nobody exits at ``t`` (threshold ``+inf``, the authors'
   ``1e8``). The last step takes every sample left (``-inf``, ``-1e8``).
3. On the test data each sample exits at the first step whose confidence
   reaches that step's threshold (:func:`exit_steps`); accuracy is that of
   the exit predictions and the expected cost is ``sum_t (fraction exiting
   at t) * cost_t`` with ``cost_t`` the cumulative cost of steps ``1..t``
   (:func:`evaluate_thresholds`).

Confidences are the max-softmax of :func:`mmext.models.utils.exit_confidence`.
Arrays are NumPy; ``(T, N)`` means steps by samples.
"""
from typing import Dict, Optional, Sequence

import numpy as np

__all__ = [
    'P_VALUES', 'geometric_exit_fractions', 'fit_thresholds', 'exit_steps',
    'anytime_accuracy', 'evaluate_thresholds', 'stored_thresholds'
]

#: the sweep of MSDNet and GFNet: p = 0.05, 0.10, ..., 1.95
P_VALUES = tuple(k / 20 for k in range(1, 40))


def _matrix(name: str, value) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f'{name} must be a non-empty (T, N) array, got '
                         f'shape {arr.shape}')
    return arr


def _vector(name: str, value, num_steps: int) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (num_steps, ):
        raise ValueError(f'{name} must have one value per step '
                         f'({num_steps}), got shape {arr.shape}')
    return arr


def geometric_exit_fractions(p: float, num_steps: int) -> np.ndarray:
    """``(T,)`` exit fractions ``q_t = p^t / sum_s p^s``, ``t = 1..T``.

    ``p < 1`` sends most samples out early, ``p > 1`` late.
    """
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not p > 0:
        raise ValueError(f'p must be a number > 0, got {p!r}')
    if isinstance(num_steps, bool) or not isinstance(
            num_steps, int) or num_steps < 1:
        raise ValueError(f'num_steps must be an int >= 1, got {num_steps!r}')
    q = float(p)**np.arange(1, num_steps + 1, dtype=np.float64)
    return q / q.sum()


def fit_thresholds(confidences, fractions: Sequence[float]) -> np.ndarray:
    """Per-step thresholds giving the exit ``fractions`` on ``confidences``.

    Args:
        confidences: ``(T, N)`` confidence of each calibration sample at
            each step.
        fractions: ``(T,)`` requested exit fractions (non-negative; the last
            is not read: the last step takes whatever is left).

    Returns:
        np.ndarray: ``(T,)`` float64 thresholds; ``+inf`` where nobody exits,
        ``-inf`` at the last step.
    """
    conf = _matrix('confidences', confidences).astype(np.float64)
    num_steps, num = conf.shape
    q = _vector('fractions', fractions, num_steps)
    if not np.all(q >= 0):
        raise ValueError(f'fractions must be >= 0, got {q.tolist()}')
    thresholds = np.full(num_steps, np.inf)
    exited = np.zeros(num, dtype=bool)
    for t in range(num_steps - 1):
        count = int(np.floor(num * q[t]))
        left = np.sort(conf[t, ~exited])[::-1]
        if 0 < count <= left.size:
            thresholds[t] = left[count - 1]
        exited |= conf[t] >= thresholds[t]
    thresholds[-1] = -np.inf
    return thresholds


def exit_steps(confidences, thresholds: Sequence[float]) -> np.ndarray:
    """``(N,)`` 0-based step at which each sample exits: the first ``t``
    with ``confidences[t] >= thresholds[t]``, else the last step."""
    conf = _matrix('confidences', confidences)
    reached = conf >= _vector('thresholds', thresholds, conf.shape[0])[:,
                                                                       None]
    reached[-1] = True
    return reached.argmax(axis=0)


def anytime_accuracy(correct) -> np.ndarray:
    """``(T,)`` top-1 accuracy (%) of every step from the ``(T, N)``
    booleans ``correct``."""
    return _matrix('correct', correct).astype(bool).mean(axis=1) * 100.0


def evaluate_thresholds(confidences,
                        correct,
                        thresholds: Sequence[float],
                        step_costs: Optional[Sequence[float]] = None) -> Dict:
    """Budgeted batch classification with the given thresholds.

    Args:
        confidences: ``(T, N)`` confidences of the test samples.
        correct: ``(T, N)`` whether each step's prediction is right.
        thresholds: ``(T,)`` thresholds (:func:`fit_thresholds`).
        step_costs: ``(T,)`` cumulative cost of steps ``1..t`` per sample,
            or None.

    Returns:
        dict: ``accuracy`` (%), ``exit_fractions`` (``(T,)`` list) and,
        with ``step_costs``, ``expected_cost`` (per sample).
    """
    conf = _matrix('confidences', confidences)
    right = _matrix('correct', correct).astype(bool)
    if right.shape != conf.shape:
        raise ValueError(f'correct has shape {right.shape}, confidences '
                         f'{conf.shape}')
    num_steps, num = conf.shape
    steps = exit_steps(conf, thresholds)
    fractions = np.bincount(steps, minlength=num_steps) / num
    out = dict(
        accuracy=float(right[steps, np.arange(num)].mean() * 100.0),
        exit_fractions=fractions.tolist())
    if step_costs is not None:
        costs = _vector('step_costs', step_costs, num_steps)
        out['expected_cost'] = float(fractions @ costs)
    return out


def stored_thresholds(checkpoint: str, num_steps: int) -> np.ndarray:
    """The ``(len(P_VALUES), T)`` thresholds a checkpoint keeps in
    ``meta[<method>]['thresholds']`` (a converted release: the authors fit
    them on their training images; e.g. ``meta['gfnet']``).

    Raises:
        ValueError: the checkpoint has none (a checkpoint trained with
            mmext, or a release without them), or they are for another
            number of steps or another sweep of ``p``.
    """
    from mmext.utils.converter import load_checkpoint
    ckpt = load_checkpoint(checkpoint)
    meta = (ckpt.get('meta') if isinstance(ckpt, dict) else None) or {}
    found = [(key, entry['thresholds']) for key, entry in meta.items()
             if isinstance(entry, dict) and entry.get('thresholds')]
    if not found:
        raise ValueError(
            f'{checkpoint} holds no calibrated thresholds '
            "(meta[<method>]['thresholds']): fit them with "
            'tools/analysis_tools/adaptive_inference.py --calib train')
    key, rows = found[0]
    thresholds = np.asarray(rows, dtype=np.float64)
    if thresholds.ndim != 2 or thresholds.shape[1] != num_steps:
        raise ValueError(
            f"{checkpoint}: meta['{key}']['thresholds'] has shape "
            f'{thresholds.shape}; the model has model.num_steps={num_steps} '
            f'steps (expected ({len(P_VALUES)}, {num_steps}))')
    if thresholds.shape[0] != len(P_VALUES):
        raise ValueError(
            f"{checkpoint}: meta['{key}']['thresholds'] has "
            f'{thresholds.shape[0]} rows, one per p of the sweep expected '
            f'({len(P_VALUES)}: p = 0.05 ... 1.95)')
    return thresholds
