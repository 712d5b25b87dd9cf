"""The protocol of multi-exit (adaptive-inference) models and its drivers.

A multi-exit model predicts at ``T`` successive steps (GFNet: a glance step
then focus steps; AdaFocusV2: one step per frame; MSDNet: one classifier per
block), each step refining the previous one. It implements
:class:`MultiExitMixin`: ``num_steps`` and the generator
``forward_steps(inputs)``. The drivers below run it

- :func:`all_steps_predict`: every step for every sample (what the budgeted
  evaluation needs to simulate any set of thresholds);
- :func:`early_exit_predict`: real early exit, where a sample whose
  confidence (:func:`exit_confidence`) reaches its step's threshold is not
  computed further, so the batch shrinks step by step.

Both give a sample the same logits at the same step (a test checks it on a
toy model), so thresholds fitted on the first are valid for the second.
"""
from abc import ABCMeta, abstractmethod
from typing import Generator, Iterator, Sequence, Tuple

import torch
from torch import Tensor

__all__ = [
    'MultiExitMixin', 'exit_confidence', 'iter_all_steps',
    'all_steps_predict', 'early_exit_predict'
]

#: what ``forward_steps`` returns: yields ``(B_t, C)`` logits, is sent the
#: ``(B_{t+1},)`` indices of the samples that continue
StepGenerator = Generator[Tensor, Tensor, None]


class MultiExitMixin(metaclass=ABCMeta):
    """What a multi-exit model implements (mix into an ``nn.Module``).

    ``forward_steps(inputs)`` is a generator over the ``T = num_steps``
    steps. At step ``t`` it yields the ``(B_t, C)`` logits of the ``B_t``
    samples still active (``B_0 = N``, the batch of ``inputs``). The caller
    then sends ``keep``, a 1-D long tensor of indices into those ``B_t``
    samples (sorted, on the logits' device): the samples that continue.
    Before computing step ``t + 1`` the model slices every per-sample state
    it carries (inputs, feature maps, recurrent hidden states, policy
    states) with ``keep``, so exited samples cost nothing more. A caller
    that needs every step for every sample sends ``arange(B_t)``; a caller
    that is done closes the generator (``GeneratorExit`` at the ``yield``).

    A GFNet-like model reads::

        def forward_steps(self, inputs):
            glance = F.interpolate(inputs, size=self.patch_size, ...)
            feat, state = self.global_encoder(glance)
            logits, hidden = self.classifier(feat, hidden=None)
            for t in range(1, self.num_steps + 1):
                keep = yield logits
                if t == self.num_steps:
                    return
                inputs, state, hidden = inputs[keep], state[keep], \\
                    hidden[:, keep]          # nn.GRU: batch is dim 1
                patch = crop(inputs, self.policy(state))
                feat, state = self.local_encoder(patch)
                logits, hidden = self.classifier(feat, hidden)

    Call it in eval mode; the drivers run it under ``torch.no_grad``.
    """

    @property
    @abstractmethod
    def num_steps(self) -> int:
        """``T``, the number of steps (exits)."""

    @abstractmethod
    def forward_steps(self, inputs: Tensor) -> StepGenerator:
        """Yield the ``(B_t, C)`` logits of each step; receive ``keep``.

        Args:
            inputs (Tensor): ``(N, ...)`` model-ready inputs (after the
                data preprocessor).
        """


def _check_model(model) -> int:
    if not isinstance(model, MultiExitMixin):
        raise TypeError(
            f'{type(model).__name__} is not a multi-exit model: it must '
            'implement mmext.models.utils.MultiExitMixin (num_steps and '
            'forward_steps)')
    num_steps = model.num_steps
    if isinstance(num_steps, bool) or not isinstance(num_steps,
                                                     int) or num_steps < 1:
        raise ValueError(f'{type(model).__name__}.num_steps must be an int '
                         f'>= 1, got {num_steps!r}')
    return num_steps


def _step(steps: StepGenerator, keep: Tensor, t: int, expected: int,
          model) -> Tensor:
    """Logits of step ``t`` (``keep`` is None for the first), checked."""
    try:
        logits = next(steps) if keep is None else steps.send(keep)
    except StopIteration:
        raise ValueError(
            f'{type(model).__name__}.forward_steps stopped after {t} steps; '
            f'num_steps is {model.num_steps}') from None
    if logits.dim() != 2 or logits.shape[0] != expected:
        raise ValueError(
            f'{type(model).__name__}.forward_steps yielded logits of shape '
            f'{tuple(logits.shape)} at step {t}; expected ({expected}, C)')
    return logits


def exit_confidence(logits: Tensor) -> Tuple[Tensor, Tensor]:
    """The exit criterion of MSDNet / GFNet / AdaFocusV2: max softmax.

    Args:
        logits (Tensor): ``(..., C)`` logits.

    Returns:
        tuple[Tensor, Tensor]: ``(...)`` confidence (the largest class
        probability, in float32 or float64 for float64 logits) and
        ``(...)`` predicted class.
    """
    dtype = torch.promote_types(logits.dtype, torch.float32)
    return logits.softmax(dim=-1, dtype=dtype).max(dim=-1)


def iter_all_steps(model: MultiExitMixin,
                   inputs: Tensor) -> Iterator[Tensor]:
    """Run every step for every sample, yielding each step's logits.

    The caller chooses the grad mode and may stop early (closing this
    generator closes the model's).

    Args:
        model: A :class:`MultiExitMixin` model.
        inputs (Tensor): ``(N, ...)`` model-ready inputs.

    Yields:
        Tensor: ``(N, C)`` logits of step ``t = 0..T-1``.
    """
    num_steps = _check_model(model)
    steps = model.forward_steps(inputs)
    num = inputs.shape[0]
    keep = None
    try:
        for t in range(num_steps):
            logits = _step(steps, keep, t, num, model)
            yield logits
            keep = torch.arange(num, device=logits.device)
    finally:
        steps.close()


@torch.no_grad()
def all_steps_predict(model: MultiExitMixin, inputs: Tensor) -> Tensor:
    """Every step for every sample.

    Args:
        model: A :class:`MultiExitMixin` model (in eval mode).
        inputs (Tensor): ``(N, ...)`` model-ready inputs.

    Returns:
        Tensor: ``(T, N, C)`` logits of every step.
    """
    return torch.stack(list(iter_all_steps(model, inputs)))


@torch.no_grad()
def early_exit_predict(model: MultiExitMixin, inputs: Tensor,
                       thresholds: Sequence[float]) -> Tuple[Tensor, Tensor]:
    """Real early exit: a sample leaves the batch at the first step whose
    confidence reaches that step's threshold; the last step takes all the
    samples left (its threshold is not read).

    Args:
        model: A :class:`MultiExitMixin` model (in eval mode).
        inputs (Tensor): ``(N, ...)`` model-ready inputs.
        thresholds (Sequence[float]): ``T`` confidence thresholds (e.g. from
            :func:`mmext.evaluation.fit_thresholds`).

    Returns:
        tuple[Tensor, Tensor]: ``(N, C)`` logits of each sample's exit step
        and ``(N,)`` its exit step (0-based, long).
    """
    num_steps = _check_model(model)
    if len(thresholds) != num_steps:
        raise ValueError(f'thresholds has {len(thresholds)} values; the '
                         f'model has num_steps={num_steps}')
    steps = model.forward_steps(inputs)
    try:
        return _exit_early(model, steps, inputs.shape[0], thresholds)
    finally:
        steps.close()


def _exit_early(model: MultiExitMixin, steps: StepGenerator, num: int,
                thresholds: Sequence[float]) -> Tuple[Tensor, Tensor]:
    logits = _step(steps, None, 0, num, model)
    device = logits.device
    active = torch.arange(num, device=device)
    out = logits.new_empty(num, logits.shape[1])
    exit_step = torch.empty(num, dtype=torch.long, device=device)
    last = len(thresholds) - 1
    for t in range(last + 1):
        if t == last:
            leaves = torch.ones_like(active, dtype=torch.bool)
        else:
            leaves = exit_confidence(logits)[0] >= float(thresholds[t])
        out[active[leaves]] = logits[leaves]
        exit_step[active[leaves]] = t
        keep = torch.nonzero(~leaves).squeeze(1)
        active = active[keep]
        if active.numel() == 0:
            break
        logits = _step(steps, keep, t + 1, active.numel(), model)
    return out, exit_step
