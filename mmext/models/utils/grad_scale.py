"""Identity in the forward pass, scaled gradient in the backward pass.

The Parameterized AP loss trains box regression only through the ranking
loss; the authors scale the gradient reaching the regression branch
(``GradScale`` in their ``paploss_retina_head.py``) by a searched factor.
"""
import torch
from torch import Tensor
from torch.autograd import Function


class _GradScale(Function):

    @staticmethod
    def forward(ctx, x: Tensor, scale: float) -> Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return grad * ctx.scale, None


def grad_scale(x: Tensor, scale: float) -> Tensor:
    """Return ``x`` (any shape) unchanged; its gradient is multiplied by
    ``scale`` on the way back. ``scale == 1`` returns ``x`` itself."""
    if scale == 1:
        return x
    if not torch.is_grad_enabled() or not x.requires_grad:
        return x
    return _GradScale.apply(x, float(scale))
