"""Global covariance pooling and its iterative matrix square root.

iSQRT-COV (`Towards Faster Training of Global Covariance Pooling Networks
by Iterative Matrix Square Root Normalization
<https://arxiv.org/abs/1712.01034>`_, Li et al., CVPR 2018; authors' code:
jiangtaoxie/fast-MPN-COV) and the pieces other second-order methods reuse:

- :func:`cov_pool`: centred covariance ``(B, C, M) -> (B, C, C)``.
- :func:`cross_cov_pool`: centred cross-covariance of two feature sets,
  ``(B, C1, M), (B, C2, M) -> (B, C1, C2)`` (pure PyTorch, autograd).
- :func:`newton_schulz_sqrt`: coupled Newton-Schulz square root of SPD
  matrices ``(B, C, C) -> (B, C, C)`` with trace pre-normalization and
  post-compensation.
- :func:`triu_vec`: upper-triangular vectorization ``(B, C, C) ->
  (B, C (C + 1) / 2)`` (row-major, diagonal included).
- :func:`isqrt_cov`: all three fused, ``(B, C, M) -> (B, C (C + 1) / 2)``.

Each runs ``torch.ops.mmext.*`` (C++ on CPU, CUDA on GPU, see
``csrc/pytorch/cov_sqrt.cpp``) when the compiled extension is available and
the pure-PyTorch reference :mod:`mmext.ops.cov_sqrt_ref` otherwise (one
warning). Both have the same hand-written backward; ``torch.compile`` traces
either (fake kernels are registered for the compiled ops).

Ill-conditioned input: the trace used for pre-normalization is
``max(tr(Sigma), eps)``, so all-zero features, rank-deficient covariances and
constant channels give finite outputs and gradients (an all-zero input gives
a zero output).

Bad input raises one ``ValueError`` naming the op, the argument and the
problem, the same on both paths (:mod:`mmext.ops.tensor_check`, before
dispatch): not a tensor, wrong number of dimensions or shape, not floating
point, no spatial positions (``M = 0``), NaN/Inf values, or a covariance
that overflows the dtype. The value checks cost one reduction and are
skipped while ``torch.compile`` traces.
"""
import importlib.util
import warnings
from functools import lru_cache
from typing import Tuple

import torch
from torch import Tensor
from torch.autograd import Function
from torch.autograd.function import once_differentiable

from . import cov_sqrt_ref as ref
from .ext_loader import ext_with_cuda, load_ext
from .tensor_check import (check_covariance_range, check_finite,
                           check_same_kind, check_tensor)

__all__ = [
    'cov_pool', 'cross_cov_pool', 'newton_schulz_sqrt', 'triu_vec',
    'isqrt_cov'
]

_IMPLS = ('auto', 'ext', 'ref')
#: Default floor of the trace in the pre-normalization.
DEFAULT_EPS = 1e-8


@lru_cache(maxsize=None)
def _ext_has_ops() -> bool:
    """Whether ``mmext._ext`` loads and was built with these ops."""
    if load_ext() is None:
        return False
    if not hasattr(torch.ops.mmext, 'isqrt_cov_forward'):
        warnings.warn('mmext._ext was built without the covariance ops '
                      '(stale build); using the pure-PyTorch reference. '
                      'Rebuild with `bash tools/setup_env.sh`.')
        return False
    return True


@torch.compiler.assume_constant_result
def _ext_supports(device_type: str) -> bool:
    """Whether the extension has kernels for ``device_type`` (evaluated
    eagerly, not traced, under ``torch.compile``)."""
    if not _ext_has_ops():
        return False
    return device_type == 'cpu' or (device_type == 'cuda' and ext_with_cuda())


def _use_ext(impl: str, x: Tensor) -> bool:
    """Whether to run ``torch.ops.mmext`` (``impl`` 'auto', 'ext' or 'ref')."""
    if impl not in _IMPLS:
        raise ValueError(f'impl must be one of {_IMPLS}, but got {impl!r}')
    if impl == 'ref':
        return False
    supported = _ext_supports(x.device.type)
    if impl == 'ext' and not supported:
        raise RuntimeError(
            f'impl="ext" but mmext._ext has no {x.device.type} kernels for '
            'the covariance ops (extension missing or built without CUDA)')
    return supported


def _check_num_iter(num_iter: int) -> None:
    if isinstance(num_iter, bool) or not isinstance(num_iter, int) \
            or num_iter < 1:
        raise ValueError(
            f'num_iter must be an int >= 1, but got {num_iter!r}')


def _check_eps(eps: float) -> None:
    if not eps > 0:
        raise ValueError(f'eps must be positive, but got {eps!r}')


def _features(x: Tensor, fn: str, name: str = 'x') -> Tensor:
    """Checked ``(B, C, H, W)`` or ``(B, C, M)`` features as ``(B, C, M)``."""
    check_tensor(fn, name, x, 'B C M', 'B C H W', positions=('M', 'H', 'W'))
    check_covariance_range(fn, name, x)
    return x.flatten(2) if x.dim() == 4 else x


def _square(m: Tensor, fn: str, name: str) -> None:
    """Check ``(B, C, C)`` matrices."""
    check_tensor(fn, name, m, 'B C C')
    check_finite(fn, **{name: m})


class _CovPool(Function):

    @staticmethod
    def forward(ctx, x: Tensor, use_ext: bool) -> Tensor:
        if use_ext:
            sigma, mu = torch.ops.mmext.cov_pool_forward(x)
        else:
            sigma, mu = ref.cov_pool_forward(x)
        ctx.save_for_backward(x, mu)
        ctx.use_ext = use_ext
        return sigma

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor) -> Tuple[Tensor, None]:
        x, mu = ctx.saved_tensors
        bwd = (torch.ops.mmext.cov_pool_backward
               if ctx.use_ext else ref.cov_pool_backward)
        return bwd(grad.contiguous(), x, mu), None


class _NewtonSchulzSqrt(Function):

    @staticmethod
    def forward(ctx, s: Tensor, num_iter: int, eps: float,
                use_ext: bool) -> Tensor:
        if use_ext:
            y, cache, t = torch.ops.mmext.sqrtm_ns_forward(s, num_iter, eps)
        else:
            y, cache, t = ref.sqrtm_forward(s, num_iter, eps)
        ctx.save_for_backward(cache, t)
        ctx.params = (num_iter, eps, use_ext)
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor) -> Tuple[Tensor, None, None, None]:
        cache, t = ctx.saved_tensors
        num_iter, eps, use_ext = ctx.params
        bwd = (torch.ops.mmext.sqrtm_ns_backward
               if use_ext else ref.sqrtm_backward)
        return bwd(grad.contiguous(), cache, t, num_iter, eps), \
            None, None, None


class _TriuVec(Function):

    @staticmethod
    def forward(ctx, m: Tensor, use_ext: bool) -> Tensor:
        ctx.params = (m.size(1), use_ext)
        if use_ext:
            return torch.ops.mmext.triu_vec_forward(m)
        return ref.triu_forward(m)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor) -> Tuple[Tensor, None]:
        c, use_ext = ctx.params
        if use_ext:
            return torch.ops.mmext.triu_vec_backward(grad.contiguous(),
                                                     c), None
        return ref.triu_backward(grad, c), None


class _ISqrtCov(Function):

    @staticmethod
    def forward(ctx, x: Tensor, num_iter: int, eps: float, triu: bool,
                use_ext: bool) -> Tensor:
        fwd = (torch.ops.mmext.isqrt_cov_forward
               if use_ext else ref.isqrt_cov_forward)
        out, mu, cache, t = fwd(x, num_iter, eps, triu)
        ctx.save_for_backward(x, mu, cache, t)
        ctx.params = (num_iter, eps, triu, use_ext)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor) -> Tuple[Tensor, None, None, None, None]:
        x, mu, cache, t = ctx.saved_tensors
        num_iter, eps, triu, use_ext = ctx.params
        bwd = (torch.ops.mmext.isqrt_cov_backward
               if use_ext else ref.isqrt_cov_backward)
        gx = bwd(grad.contiguous(), x, mu, cache, t, num_iter, eps, triu)
        return gx, None, None, None, None


def cov_pool(x: Tensor, impl: str = 'auto') -> Tensor:
    """Centred covariance ``Sigma = X Ihat X^T`` (MPN-COV, Eq. 1).

    ``Ihat = (I - 11^T / M) / M`` is never formed.

    Args:
        x (Tensor): Features ``(B, C, M)`` or ``(B, C, H, W)``.
        impl (str): ``'auto'`` (the extension when available), ``'ext'`` or
            ``'ref'`` (the pure-PyTorch reference).

    Returns:
        Tensor: ``(B, C, C)``.

    Raises:
        ValueError: ``x`` is not a floating ``(B, C, M)`` or ``(B, C, H,
            W)`` tensor, has no positions, holds NaN/Inf or has a
            covariance that overflows its dtype; ``impl`` is unknown.
    """
    x = _features(x, 'cov_pool').contiguous()
    return _CovPool.apply(x, _use_ext(impl, x))


def cross_cov_pool(x1: Tensor, x2: Tensor) -> Tensor:
    """Centred cross-covariance ``X1 Ihat X2^T`` of two feature sets.

    The general, non-symmetric case of :func:`cov_pool` (which equals
    ``cross_cov_pool(x, x)`` and has a fused kernel): ``(X1 - mu1)(X2 -
    mu2)^T / M``, ``Ihat`` never formed. Pure PyTorch; gradients by autograd.
    Used by So-ViT's head (cross-covariance of two projections of the
    visual tokens).

    Args:
        x1 (Tensor): Features ``(B, C1, M)`` or ``(B, C1, H, W)``.
        x2 (Tensor): Features ``(B, C2, M)`` or ``(B, C2, H, W)`` on the same
            ``M`` positions.

    Returns:
        Tensor: ``(B, C1, C2)``.

    Raises:
        ValueError: ``x1`` or ``x2`` is not a floating ``(B, C, M)`` or
            ``(B, C, H, W)`` tensor, has no positions, holds NaN/Inf or has
            a covariance that overflows its dtype; the two differ in batch
            size, positions, dtype or device.
    """
    x1 = _features(x1, 'cross_cov_pool', 'x1')
    x2 = _features(x2, 'cross_cov_pool', 'x2')
    check_same_kind('cross_cov_pool', 'x2', x2, 'x1', x1)
    if x1.size(0) != x2.size(0) or x1.size(2) != x2.size(2):
        raise ValueError(
            'cross_cov_pool: `x1` and `x2` must share the batch size and the '
            f'number of positions, but got {tuple(x1.shape)} and '
            f'{tuple(x2.shape)}')
    x1 = x1 - x1.mean(dim=2, keepdim=True)
    x2 = x2 - x2.mean(dim=2, keepdim=True)
    return torch.bmm(x1, x2.transpose(1, 2)) / x1.size(2)


def newton_schulz_sqrt(s: Tensor,
                       num_iter: int = 5,
                       eps: float = DEFAULT_EPS,
                       impl: str = 'auto') -> Tensor:
    """Square root of SPD matrices by coupled Newton-Schulz iterations.

    ``A = S / t`` with ``t = max(tr(S), eps)`` (Eq. 7), ``num_iter`` coupled
    iterations (Eq. 6; the last one forms only ``Y``), ``sqrt(t) Y`` (Eq. 8).
    Converges to ``S^(1/2)`` when the eigenvalues of ``A`` lie in ``(0, 2)``,
    which the trace normalization guarantees for SPD ``S``.

    Args:
        s (Tensor): SPD matrices ``(B, C, C)``.
        num_iter (int): Number of iterations ``N >= 1``. Defaults to 5.
        eps (float): Floor of the trace. Defaults to 1e-8.
        impl (str): ``'auto'``, ``'ext'`` or ``'ref'``.

    Returns:
        Tensor: ``(B, C, C)``.

    Raises:
        ValueError: ``s`` is not a floating ``(B, C, C)`` tensor or holds
            NaN/Inf; ``num_iter``, ``eps`` or ``impl`` is invalid.
    """
    _square(s, 'newton_schulz_sqrt', 's')
    _check_num_iter(num_iter)
    _check_eps(eps)
    s = s.contiguous()
    return _NewtonSchulzSqrt.apply(s, num_iter, float(eps), _use_ext(impl, s))


def triu_vec(m: Tensor, impl: str = 'auto') -> Tensor:
    """Upper triangle (diagonal included, row-major) of ``(B, C, C)``.

    Args:
        m (Tensor): Matrices ``(B, C, C)``.
        impl (str): ``'auto'``, ``'ext'`` or ``'ref'``.

    Returns:
        Tensor: ``(B, C (C + 1) / 2)``.

    Raises:
        ValueError: ``m`` is not a floating ``(B, C, C)`` tensor or holds
            NaN/Inf; ``impl`` is unknown.
    """
    _square(m, 'triu_vec', 'm')
    m = m.contiguous()
    return _TriuVec.apply(m, _use_ext(impl, m))


def isqrt_cov(x: Tensor,
              num_iter: int = 5,
              triu: bool = True,
              eps: float = DEFAULT_EPS,
              impl: str = 'auto') -> Tensor:
    """iSQRT-COV pooling: covariance, Newton-Schulz square root, triu.

    Equal to ``triu_vec(newton_schulz_sqrt(cov_pool(x), num_iter, eps))``,
    computed in one op whose backward re-uses the forward's products.

    Args:
        x (Tensor): Features ``(B, C, M)`` or ``(B, C, H, W)``.
        num_iter (int): Newton-Schulz iterations ``N >= 1``. Defaults to 5.
        triu (bool): Return the upper-triangular vector instead of the
            matrix. Defaults to True.
        eps (float): Floor of the trace. Defaults to 1e-8.
        impl (str): ``'auto'``, ``'ext'`` or ``'ref'``.

    Returns:
        Tensor: ``(B, C (C + 1) / 2)`` if ``triu`` else ``(B, C, C)``.

    Raises:
        ValueError: ``x`` is not a floating ``(B, C, M)`` or ``(B, C, H,
            W)`` tensor, has no positions, holds NaN/Inf or has a
            covariance that overflows its dtype; ``num_iter``, ``eps`` or
            ``impl`` is invalid.
    """
    x = _features(x, 'isqrt_cov').contiguous()
    _check_num_iter(num_iter)
    _check_eps(eps)
    return _ISqrtCov.apply(x, num_iter, float(eps), bool(triu),
                           _use_ext(impl, x))


def _register_fakes() -> None:
    """Shape functions of ``torch.ops.mmext.*`` for ``torch.compile``."""

    def batched(t: Tensor, *shape: int) -> Tensor:
        return t.new_empty(shape)

    @torch.library.register_fake('mmext::cov_pool_forward')
    def _(x):
        b, c, _ = x.shape
        return batched(x, b, c, c), batched(x, b, c)

    @torch.library.register_fake('mmext::cov_pool_backward')
    def _(grad, x, mu):
        return torch.empty_like(x)

    @torch.library.register_fake('mmext::sqrtm_ns_forward')
    def _(s, num_iter, eps):
        b, c, _ = s.shape
        return (batched(s, b, c, c), batched(s, ref.cache_size(num_iter), b,
                                             c, c), batched(s, b))

    @torch.library.register_fake('mmext::sqrtm_ns_backward')
    def _(grad, cache, t, num_iter, eps):
        return torch.empty_like(grad)

    @torch.library.register_fake('mmext::triu_vec_forward')
    def _(m):
        b, c, _ = m.shape
        return batched(m, b, c * (c + 1) // 2)

    @torch.library.register_fake('mmext::triu_vec_backward')
    def _(grad, dim):
        return batched(grad, grad.shape[0], dim, dim)

    @torch.library.register_fake('mmext::isqrt_cov_forward')
    def _(x, num_iter, eps, triu):
        b, c, _ = x.shape
        out = batched(x, b, c * (c + 1) // 2) if triu else batched(x, b, c, c)
        return (out, batched(x, b, c),
                batched(x, ref.cache_size(num_iter), b, c, c), batched(x, b))

    @torch.library.register_fake('mmext::isqrt_cov_backward')
    def _(grad, x, mu, cache, t, num_iter, eps, triu):
        return torch.empty_like(x)


# Register only when the extension can be imported; otherwise stay silent
# until the first call (which then warns once and uses the reference).
if importlib.util.find_spec('mmext._ext') is not None and _ext_has_ops():
    _register_fakes()
