"""Cumulative cost per step of a multi-exit model, measured from the model.

The model (a :class:`mmext.models.utils.MultiExitMixin`) is run on example
inputs and the cost of steps ``1..t`` per sample is read off, for each
``t``, in one of two conventions (:data:`CONVENTIONS`):

- ``'authors'``: multiply-adds of the ``nn.Conv*``, ``nn.Linear``,
  ``nn.GRU`` and ``nn.GRUCell`` module calls only (GFNet's and MSDNet's
  counting, so their curves are reproduced exactly): no bias, batch norm,
  activation, pooling or element-wise product, and nothing that calls
  ``F.conv2d`` / ``F.linear`` without going through such a module
  (:func:`layer_macs` has the formulas).
- ``'mmengine'``: ``mmengine.analysis.FlopAnalyzer`` (fvcore's counting,
  the one of ``tools/analysis_tools/benchmark.py``): one multiply-add is one
  FLOP, and normalisation, upsampling and adaptive pooling count too. Ops
  it does not support count 0 and are logged: element-wise ones, and
  ``nn.GRU``'s ``aten::gru`` (an ``nn.GRUCell`` is traced as its matrix
  products, which count).

Both divide the batch total by the batch size: the cost of one sample.
"""
from contextlib import contextmanager
from itertools import islice
from typing import Iterator, List, Tuple

import numpy as np
import torch
from mmengine.logging import print_log
from torch import Tensor, nn

from mmext.models.utils.multi_exit import MultiExitMixin, iter_all_steps

__all__ = ['CONVENTIONS', 'layer_macs', 'measure_step_costs']

CONVENTIONS = ('authors', 'mmengine')
_COUNTED = (nn.modules.conv._ConvNd, nn.Linear, nn.GRU, nn.GRUCell)


def layer_macs(module: nn.Module, inputs: tuple, output) -> int:
    """Multiply-adds of one call of a conv, linear or GRU module (whole
    batch); 0 for any other module.

    - ``ConvNd``: ``out.numel() * C_in / groups * prod(kernel)``;
      ``ConvTransposeNd``: ``in.numel() * C_out / groups * prod(kernel)``.
    - ``Linear``: ``out.numel() * in_features``.
    - ``GRU`` / ``GRUCell``: per input position (sequence step and sample),
      ``3 H (I_l + H)`` for each layer ``l`` and direction, ``I_l`` the
      layer's input size (``I``, then ``H`` or ``2 H`` if bidirectional):
      the three gates' input and hidden products.
    """
    if isinstance(module, nn.modules.conv._ConvNd):
        kernel = int(np.prod(module.kernel_size))
        if module.transposed:
            return inputs[0].numel() * (module.out_channels //
                                        module.groups) * kernel
        return output.numel() * (module.in_channels // module.groups) * kernel
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    if isinstance(module, (nn.GRU, nn.GRUCell)):
        x = inputs[0]
        x = x.data if isinstance(x, nn.utils.rnn.PackedSequence) else x
        positions = x.numel() // module.input_size
        hidden = module.hidden_size
        if isinstance(module, nn.GRUCell):
            return positions * 3 * hidden * (module.input_size + hidden)
        directions = 2 if module.bidirectional else 1
        per_position = sum(
            directions * 3 * hidden *
            ((module.input_size if layer == 0 else directions * hidden) +
             hidden) for layer in range(module.num_layers))
        return positions * per_position
    return 0


@contextmanager
def _inference(model: nn.Module) -> Iterator[None]:
    """Eval mode and no gradients; the model's mode is restored."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def _authors_costs(model: MultiExitMixin, inputs: Tensor) -> List[float]:
    total = [0]
    handles = [
        m.register_forward_hook(lambda mod, args, out: total.__setitem__(
            0, total[0] + layer_macs(mod, args, out)))
        for m in model.modules() if isinstance(m, _COUNTED)
    ]
    try:
        return [
            total[0] / inputs.shape[0]
            for _ in iter_all_steps(model, inputs)
        ]
    finally:
        for handle in handles:
            handle.remove()


class _FirstSteps(nn.Module):
    """``forward(x)``: the logits of steps ``1..num``, as one traceable
    module for ``FlopAnalyzer``. All of them are outputs: the tracer drops
    what no output depends on (an earlier step's head)."""

    def __init__(self, model: MultiExitMixin, num: int) -> None:
        super().__init__()
        self.model = model
        self.num = num

    def forward(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        steps = iter_all_steps(self.model, inputs)
        logits = tuple(islice(steps, self.num))
        steps.close()
        return logits


def _mmengine_costs(model: MultiExitMixin, inputs: Tensor) -> List[float]:
    from mmengine.analysis import FlopAnalyzer
    cumulative = []
    for num in range(1, model.num_steps + 1):
        analyzer = FlopAnalyzer(_FirstSteps(model, num), (inputs, ))
        analyzer.unsupported_ops_warnings(False)
        analyzer.uncalled_modules_warnings(False)
        cumulative.append(analyzer.total() / inputs.shape[0])
    unsupported = dict(analyzer.unsupported_ops())
    if unsupported:
        print_log(
            'step costs (mmengine convention) count these ops as 0: '
            f'{unsupported}',
            logger='current')
    return cumulative


def measure_step_costs(model: MultiExitMixin,
                       inputs: Tensor,
                       convention: str = 'authors') -> List[float]:
    """Cumulative cost of steps ``1..t`` per sample, for ``t = 1..T``.

    Args:
        model: A :class:`~mmext.models.utils.MultiExitMixin` model; it is
            run in eval mode without gradients (its mode is restored).
        inputs (Tensor): ``(N, ...)`` model-ready example inputs (e.g. one
            preprocessed test batch); the cost is their mean.
        convention (str): ``'authors'`` or ``'mmengine'`` (module
            docstring).

    Returns:
        list[float]: ``T`` non-decreasing costs in multiply-adds.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f'convention must be one of {CONVENTIONS}, got '
                         f'{convention!r}')
    with _inference(model):
        if convention == 'authors':
            return _authors_costs(model, inputs)
        return _mmengine_costs(model, inputs)
