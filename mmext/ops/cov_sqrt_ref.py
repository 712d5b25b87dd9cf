"""Pure-PyTorch reference of the covariance square-root ops.

The same forward and the same hand-derived backward as the C++/CUDA kernels
(``csrc/common/cov_sqrt_common.h``), written with ``torch`` calls only. It is
what :mod:`mmext.ops.cov_sqrt` runs when the compiled extension is missing,
and what the tests compare the extension against. Its callers in
:mod:`mmext.ops.cov_sqrt` validate the input first (shapes, dtypes, NaN/Inf,
overflow), for both paths alike.

Notation (iSQRT-COV, Li et al., CVPR 2018, Sec. 3): ``X`` is ``(B, C, M)``,
``Sigma = (1/M) Xc Xc^T`` with ``Xc = X - mean(X)``, ``t = tr(Sigma)``,
``A = Sigma / t`` (pre-normalization, Eq. 7), coupled Newton-Schulz
``Z0 = (3I - A)/2, Y0 = A Z0``, ``T_k = (3I - Z_{k-1} Y_{k-1})/2``,
``Y_k = Y_{k-1} T_k, Z_k = T_k Z_{k-1}`` (Eq. 6; the last step forms only
``Y``), and post-compensation ``sqrt(t) Y_{N-1}`` (Eq. 8).

Saved state is one ``cache`` tensor of shape ``(K, B, C, C)`` with
``K = 3 (N - 1) + 2``: ``[A, Y_final, Y_0..Y_{N-2}, Z_0..Z_{N-2},
T_1..T_{N-1}]``. The backward re-uses every product of the forward, so it
costs two matrix products per forward product and no extra ones.
"""
from typing import Optional, Tuple

import torch
from torch import Tensor


def cache_size(num_iter: int) -> int:
    """Number of ``(B, C, C)`` matrices the Newton-Schulz cache holds."""
    return 3 * (num_iter - 1) + 2


def cov_pool_forward(x: Tensor) -> Tuple[Tensor, Tensor]:
    """Centred covariance ``(B, C, M) -> (B, C, C)`` and the mean ``(B, C)``.

    ``Sigma = X Ihat X^T`` with ``Ihat = (I - 11^T / M) / M`` (MPN-COV, Eq.
    1) is computed as ``(X - mu)(X - mu)^T / M``: the ``M x M`` matrix
    ``Ihat`` is never formed.
    """
    mu = x.mean(dim=2)
    xc = x - mu.unsqueeze(2)
    sigma = torch.bmm(xc, xc.transpose(1, 2)).div_(x.size(2))
    return sigma, mu


def cov_pool_backward(grad: Tensor, x: Tensor, mu: Tensor) -> Tensor:
    """``dL/dX = (G + G^T)(X - mu 1^T) / M``, without forming ``X - mu``."""
    gs = (grad + grad.transpose(1, 2)).div_(x.size(2))
    return torch.bmm(gs, x).sub_(torch.bmm(gs, mu.unsqueeze(2)))


def sqrtm_forward(s: Tensor, num_iter: int,
                  eps: float) -> Tuple[Tensor, Tensor, Tensor]:
    """Newton-Schulz square root of ``(B, C, C)`` matrices.

    Returns ``(sqrt(t) * Y_final, cache, t)`` where ``t = max(tr(S), eps)``.
    """
    b, c, _ = s.shape
    t = s.diagonal(dim1=1, dim2=2).sum(-1).clamp_min(eps)
    cache = s.new_empty((cache_size(num_iter), b, c, c))
    a = torch.div(s, t.view(b, 1, 1), out=cache[0])
    eye15 = torch.eye(c, dtype=s.dtype, device=s.device).mul_(1.5)
    z = torch.add(eye15, a, alpha=-0.5)
    y = torch.bmm(a, z)
    n = num_iter - 1
    for k in range(1, num_iter):
        cache[1 + k] = y
        cache[1 + n + k] = z
        tk = cache[1 + 2 * n + k]
        torch.baddbmm(eye15.expand(b, c, c), z, y, alpha=-0.5, out=tk)
        y_new = torch.bmm(y, tk)
        if k < num_iter - 1:
            z = torch.bmm(tk, z)
        y = y_new
    cache[1] = y
    return y * t.sqrt().view(b, 1, 1), cache, t


def sqrtm_backward(grad: Tensor, cache: Tensor, t: Tensor, num_iter: int,
                   eps: float) -> Tensor:
    """Gradient of :func:`sqrtm_forward` w.r.t. ``s`` (exact, no symmetry
    assumed, so it matches finite differences for any input)."""
    b, c, _ = grad.shape
    n = num_iter - 1
    a, y_final = cache[0], cache[1]
    sq = t.sqrt().view(b, 1, 1)
    p = grad * sq
    # d(sqrt(t))/dt term of the post-compensation, <G, sqrt(t) Y> / (2t).
    g_t = (p * y_final).sum((1, 2)) / (2 * t)
    eye15 = torch.eye(c, dtype=grad.dtype, device=grad.device).mul_(1.5)
    if n == 0:
        g_y, g_z, z0 = p, None, torch.add(eye15, a, alpha=-0.5)
    else:
        y, z, tk = cache[1 + n], cache[1 + 2 * n], cache[1 + 3 * n]
        # Y_f = Y T with T = (3I - Z Y) / 2.
        ytp = torch.bmm(y.transpose(1, 2), p)
        g_y = torch.baddbmm(torch.bmm(p, tk.transpose(1, 2)),
                            z.transpose(1, 2), ytp, alpha=-0.5)
        g_z = torch.bmm(ytp, y.transpose(1, 2)).mul_(-0.5)
        for k in range(n - 1, 0, -1):
            y, z, tk = cache[1 + k], cache[1 + n + k], cache[1 + 2 * n + k]
            # (Y_k, Z_k) = (Y T, T Z), T = (3I - Z Y) / 2.
            g_t_mat = torch.baddbmm(torch.bmm(y.transpose(1, 2), g_y), g_z,
                                    z.transpose(1, 2))
            g_y_new = torch.baddbmm(torch.bmm(g_y, tk.transpose(1, 2)),
                                    z.transpose(1, 2), g_t_mat, alpha=-0.5)
            g_z = torch.baddbmm(torch.bmm(tk.transpose(1, 2), g_z), g_t_mat,
                                y.transpose(1, 2), alpha=-0.5)
            g_y = g_y_new
        z0 = cache[1 + n + 1]
    # Y0 = A Z0, Z0 = (3I - A) / 2.
    g_z0 = torch.bmm(a.transpose(1, 2), g_y)
    if g_z is not None:
        g_z0 = g_z0.add_(g_z)
    g_a = torch.bmm(g_y, z0.transpose(1, 2)).sub_(g_z0.mul_(0.5))
    # A = S / t, t = tr(S) where not clamped.
    g_t = g_t - (g_a * a).sum((1, 2)) / t
    g_t = torch.where(t > eps, g_t, torch.zeros_like(g_t))
    g_s = g_a.div_(t.view(b, 1, 1))
    g_s.diagonal(dim1=1, dim2=2).add_(g_t.unsqueeze(1))
    return g_s


def triu_indices(c: int, device: torch.device) -> Tensor:
    """Flat indices of the upper triangle of a ``C x C`` matrix, row-major."""
    rows, cols = torch.triu_indices(c, c, device=device)
    return rows * c + cols


def triu_forward(m: Tensor, scale: Optional[Tensor] = None) -> Tensor:
    """``(B, C, C) -> (B, C (C + 1) / 2)``, optionally times ``scale (B)``."""
    b, c, _ = m.shape
    out = m.reshape(b, c * c)[:, triu_indices(c, m.device)]
    return out if scale is None else out * scale.view(b, 1)


def triu_backward(grad: Tensor, c: int,
                  scale: Optional[Tensor] = None) -> Tensor:
    """Scatter ``(B, C (C + 1) / 2)`` back to ``(B, C, C)`` (zeros below)."""
    b = grad.size(0)
    if scale is not None:
        grad = grad * scale.view(b, 1)
    out = grad.new_zeros((b, c * c))
    out[:, triu_indices(c, grad.device)] = grad
    return out.view(b, c, c)


def isqrt_cov_forward(x: Tensor, num_iter: int, eps: float,
                      triu: bool) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Fused iSQRT-COV: ``(B, C, M) -> (B, C, C)`` or ``(B, C (C+1)/2)``.

    Returns ``(out, mu, cache, t)``.
    """
    sigma, mu = cov_pool_forward(x)
    y, cache, t = sqrtm_forward(sigma, num_iter, eps)
    if triu:
        y = triu_forward(cache[1], t.sqrt())
    return y, mu, cache, t


def isqrt_cov_backward(grad: Tensor, x: Tensor, mu: Tensor, cache: Tensor,
                       t: Tensor, num_iter: int, eps: float,
                       triu: bool) -> Tensor:
    """Gradient of :func:`isqrt_cov_forward` w.r.t. ``x``."""
    if triu:
        grad = triu_backward(grad, x.size(1))
    g_sigma = sqrtm_backward(grad, cache, t, num_iter, eps)
    return cov_pool_backward(g_sigma, x, mu)
