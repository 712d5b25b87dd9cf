"""Brownian distance covariance (BDC) pooling of DeepBDC.

`Joint Distribution Matters: Deep Brownian Distance Covariance for Few-Shot
Classification <https://arxiv.org/abs/2204.04567>`_ (Xie et al., CVPR 2022,
Sec. 3.2, Eq. 4); authors' code: Fei-Long121/DeepBDC
(``methods/bdc_module.py``).

The ``d`` channels of a ``(B, d, M)`` map are the observations: with
``G = X X^T`` and ``s = diag(G)``,

- ``D_kl = max(s_k + s_l - 2 G_kl, 0)`` (squared distances over the ``M``
  positions),
- ``A_kl = sqrt(exp(t) D_kl + eps)``,
- ``C = J A J`` with ``J = I - 11^T / d`` (double centring: every row and
  column of ``C`` sums to 0);

:func:`bdc_pool` returns the upper triangle of ``C`` (diagonal included,
row-major, no ``sqrt(2)`` weighting), through the triu vectorization shared
with iSQRT-COV (:func:`mmext.ops.triu_vec`), or ``C`` itself. For two maps
the inner product of their ``C`` divided by ``d^2`` is the sample Brownian
distance covariance of the two channel sets.

One ``torch.autograd.Function``, memory-lean on purpose (DeepBDC's
meta-training pools 105 maps of 640 x 10 x 10 per episode, 172 MB per
``(B, d, d)`` float32 tensor): the forward forms ``G`` once and turns it into
``A`` in place (one ``bmm``, then in-place passes), centres the
triangle as a vector (``C_kl = A_kl - r_k - r_l + m`` with the row means
``r`` of the symmetric ``A``), and saves only ``x``, ``A`` and the output
(which the caller holds anyway). The backward is in closed form: for the
symmetric adjoint ``V`` of the output gradient (``U + U^T``, ``U`` its
scatter to ``(B, d, d)``), ``P = J V J`` and ``Q = P / A`` (element-wise),

- ``dL/dx = exp(t) (diag(Q 1) - Q) X`` (one ``bmm``),
- ``dL/dt = (<P, A> - eps <Q, 1>) / 4``, with ``<P, A> = <V, C> = 2 <grad,
  out>`` (the output, not ``A``, whose row means ``P``'s centring cancels,
  keeps the digits in float32),

where the clamp needs no mask: its gradient ``2 (x_k - x_l)`` vanishes
where ``D_kl`` is 0. Bad input raises one ``ValueError`` naming the op and
the argument (:mod:`mmext.ops.tensor_check`).
"""
import math
from typing import Optional, Tuple

import torch
from torch import Tensor
from torch.autograd import Function
from torch.autograd.function import once_differentiable

from . import cov_sqrt_ref as ref
from .cov_sqrt import _use_ext
from .tensor_check import check_finite, check_same_kind, check_tensor

__all__ = ['bdc_pool']

#: The authors' constant under the square root.
DEFAULT_EPS = 1e-5


def _triu_forward(m: Tensor, use_ext: bool) -> Tensor:
    """:func:`mmext.ops.triu_vec`'s kernel, ``(B, d, d) -> (B, P)``."""
    return torch.ops.mmext.triu_vec_forward(m) if use_ext \
        else ref.triu_forward(m)


def _sym_triu_adjoint(grad: Tensor, dim: int, use_ext: bool) -> Tensor:
    """``U + U^T`` for ``U`` the scatter of ``grad`` ``(B, P)`` to the upper
    triangle of ``(B, d, d)`` (:func:`mmext.ops.triu_vec`'s backward); the
    diagonal is ``2 grad``. Returns a new ``(B, d, d)`` tensor."""
    grad = grad.contiguous()
    u = torch.ops.mmext.triu_vec_backward(grad, dim) if use_ext \
        else ref.triu_backward(grad, dim)
    rows, cols = torch.triu_indices(dim, dim, device=grad.device)
    u.view(-1, dim * dim).index_add_(1, cols * dim + rows, grad)
    return u


class _BDCPool(Function):

    @staticmethod
    def forward(ctx, x: Tensor, temperature: Tensor, eps: float, triu: bool,
                use_ext: bool) -> Tensor:
        scale = math.exp(float(temperature))
        a = torch.bmm(x, x.transpose(1, 2))  # G
        # the diagonal of G, not ||x_k||^2 summed apart: its rounding
        # matches G's, so D stays accurate where the terms cancel
        s = a.diagonal(dim1=1, dim2=2).clone()
        torch.add(s.unsqueeze(2), a, alpha=-2, out=a)
        a.add_(s.unsqueeze(1)).clamp_(min=0)  # D
        torch.add(a.new_tensor(eps), a, alpha=scale, out=a).sqrt_()  # A
        r = a.mean(2)  # (B, d); A is symmetric, so also the column means
        m = r.mean(1, keepdim=True)  # (B, 1)
        if triu:
            d = x.size(1)
            rows, cols = torch.triu_indices(d, d, device=x.device)
            out = _triu_forward(a, use_ext)
            out.sub_(r[:, rows]).sub_(r[:, cols]).add_(m)
        else:
            out = a - r.unsqueeze(2) - r.unsqueeze(1) + m.unsqueeze(2)
        ctx.save_for_backward(x, a, out)
        ctx.params = (scale, eps, triu, use_ext, temperature.shape)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor
                 ) -> Tuple[Tensor, Optional[Tensor], None, None, None]:
        x, a, out = ctx.saved_tensors
        scale, eps, triu, use_ext, t_shape = ctx.params
        if triu:
            p = _sym_triu_adjoint(grad, x.size(1), use_ext)
        else:
            p = grad + grad.transpose(1, 2)
        # J V J in place: subtracting the column means, then the row means
        # of the result, subtracts both and adds back the overall mean
        p.sub_(p.mean(1, keepdim=True)).sub_(p.mean(2, keepdim=True))
        q = p.div_(a)
        r = q.sum(2)  # (B, d)
        grad_t = None
        if ctx.needs_input_grad[1]:
            # <P, A> = <V, J A J> = 2 <grad, out>: the output, not A (whose
            # rows P's centring cancels), keeps the digits
            dot = torch.bmm(grad.reshape(x.size(0), 1, -1),
                            out.reshape(x.size(0), -1, 1)).double().sum()
            grad_t = ((2 * dot - eps * r.double().sum()) / 4).to(
                a.dtype).reshape(t_shape)
        # diag(Q 1) - Q, so the subtraction happens before the product
        q.diagonal(dim1=1, dim2=2).sub_(r)
        grad_x = torch.baddbmm(x, q, x, beta=0, alpha=-scale)
        return grad_x, grad_t, None, None, None


def _check_temperature(temperature: Tensor, x: Tensor) -> None:
    check_tensor('bdc_pool', 'temperature', temperature, '', '1', '1 1')
    check_same_kind('bdc_pool', 'temperature', temperature, 'x', x)
    if not torch.compiler.is_compiling() and not bool(
            torch.isfinite(temperature).all()):
        raise ValueError(
            f'bdc_pool: `temperature` is {float(temperature)!r}; it must be '
            'finite (exp(t) scales the squared distances)')


def bdc_pool(x: Tensor,
             temperature: Tensor,
             eps: float = DEFAULT_EPS,
             triu: bool = True,
             impl: str = 'auto') -> Tensor:
    """BDC matrix of each map's channels, as its upper-triangular vector.

    Args:
        x (Tensor): Features ``(B, d, M)`` or ``(B, d, h, w)``,
            ``M = h w >= 2``.
        temperature (Tensor): ``t``, one value of shape ``()``, ``(1, )``
            or ``(1, 1)``; squared distances are scaled by ``exp(t)``. Its
            gradient has its shape.
        eps (float): Added under the square root (keeps its gradient finite
            on the zero diagonal: with ``eps = 0`` only the forward is
            defined). Defaults to 1e-5, the authors'.
        triu (bool): Return the upper-triangular vector instead of the
            matrix. Defaults to True.
        impl (str): The triu kernel: ``'auto'``, ``'ext'`` or ``'ref'`` (as
            :func:`mmext.ops.triu_vec`).

    Returns:
        Tensor: ``(B, d (d + 1) / 2)`` if ``triu`` else ``(B, d, d)``
        (symmetric, rows and columns summing to 0).

    Raises:
        ValueError: ``x`` is not a floating ``(B, d, M)`` or ``(B, d, h,
            w)`` tensor, has fewer than 2 positions or holds NaN/Inf;
            ``temperature`` is not one finite value of ``x``'s dtype and
            device; ``eps`` is negative; ``impl`` is unknown.
    """
    check_tensor('bdc_pool', 'x', x, 'B C M', 'B C H W')
    positions = math.prod(x.shape[2:])
    if positions < 2:
        raise ValueError(
            f'bdc_pool: `x` has {positions} spatial position(s) (shape '
            f'{tuple(x.shape)}); Brownian distance covariance needs >= 2')
    check_finite('bdc_pool', x=x)
    _check_temperature(temperature, x)
    if not eps >= 0:
        raise ValueError(f'bdc_pool: `eps` must be >= 0, but got {eps!r}')
    x = x.flatten(2).contiguous()
    return _BDCPool.apply(x, temperature, float(eps), bool(triu),
                          _use_ext(impl, x))
