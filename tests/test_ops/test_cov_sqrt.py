"""Covariance square-root ops against independent references.

References: finite differences (gradcheck), ``torch.linalg.eigh`` square
roots, ``numpy.cov``, Python loops over the upper triangle.
"""
import os

import numpy as np
import pytest
import torch

from mmext.ops import (cov_pool, ext_with_cuda, isqrt_cov, newton_schulz_sqrt,
                       triu_vec)
from mmext.ops.cov_sqrt import _ext_has_ops

IMPLS = [
    'ref',
    pytest.param(
        'ext',
        marks=pytest.mark.skipif(
            not _ext_has_ops(), reason='mmext._ext without cov ops')),
]
NVCC = '/usr/local/cuda/bin/nvcc'


def _features(b=2, c=5, m=12, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, c, m, generator=g, dtype=dtype)


def _eigh_sqrt(s: torch.Tensor) -> torch.Tensor:
    w, v = torch.linalg.eigh(s)
    return v @ torch.diag_embed(w.clamp_min(0).sqrt()) @ v.transpose(1, 2)


def _triu_loop(m: torch.Tensor) -> torch.Tensor:
    c = m.size(1)
    return torch.stack([
        torch.stack([m[b, i, j] for i in range(c) for j in range(i, c)])
        for b in range(m.size(0))
    ])


@pytest.mark.parametrize('impl', IMPLS)
@pytest.mark.parametrize('num_iter', [1, 2, 3, 5])
def test_gradcheck_isqrt_cov(impl, num_iter):
    x = _features().requires_grad_()
    for triu in (True, False):
        assert torch.autograd.gradcheck(
            lambda x: isqrt_cov(x, num_iter, triu=triu, impl=impl), (x, ))


@pytest.mark.parametrize('impl', IMPLS)
@pytest.mark.parametrize('num_iter', [1, 2, 3, 5])
def test_gradcheck_pieces(impl, num_iter):
    x = _features(seed=1)
    s = cov_pool(x, impl='ref').detach()
    # Entries perturbed one at a time make S non-symmetric: the backward is
    # exact for any matrix, not only symmetric ones.
    assert torch.autograd.gradcheck(
        lambda s: newton_schulz_sqrt(s, num_iter, impl=impl),
        (s.requires_grad_(), ))
    if num_iter == 1:
        assert torch.autograd.gradcheck(lambda x: cov_pool(x, impl=impl),
                                        (x.requires_grad_(), ))
        assert torch.autograd.gradcheck(lambda s: triu_vec(s, impl=impl),
                                        (s, ))


@pytest.mark.parametrize('impl', IMPLS)
def test_cov_pool_matches_numpy(impl):
    x = _features(b=3, c=6, m=20, seed=2)
    sigma = cov_pool(x.view(3, 6, 4, 5), impl=impl)
    for b in range(3):
        ref = np.cov(x[b].numpy(), bias=True)
        np.testing.assert_allclose(sigma[b].numpy(), ref, rtol=1e-12,
                                   atol=1e-12)


@pytest.mark.parametrize('impl', IMPLS)
def test_triu_vec_matches_loop(impl):
    m = torch.randn(2, 6, 6, dtype=torch.float64)
    v = triu_vec(m, impl=impl)
    assert v.shape == (2, 21)
    torch.testing.assert_close(v, _triu_loop(m), rtol=0, atol=0)


@pytest.mark.parametrize('impl', IMPLS)
def test_converges_to_eigh_sqrt(impl):
    x = _features(b=3, c=8, m=200, seed=3)
    sigma = torch.stack([
        torch.from_numpy(np.cov(x[b].numpy(), bias=True)) for b in range(3)
    ])
    ref = _eigh_sqrt(sigma)
    torch.testing.assert_close(
        newton_schulz_sqrt(sigma, 30, impl=impl), ref, rtol=1e-9, atol=1e-9)
    out = isqrt_cov(x, 30, triu=False, impl=impl)
    torch.testing.assert_close(out, ref, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(
        isqrt_cov(x, 30, triu=True, impl=impl), _triu_loop(ref), rtol=1e-9,
        atol=1e-9)
    # The sqrt of a rank-deficient covariance (M < C) converges as well: the
    # null space stays exactly zero.
    x = _features(b=2, c=8, m=4, seed=4)
    sigma = cov_pool(x, impl='ref')
    torch.testing.assert_close(
        isqrt_cov(x, 40, triu=False, impl=impl), _eigh_sqrt(sigma),
        rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize('impl', IMPLS)
@pytest.mark.parametrize('case', ['zero', 'rank_deficient', 'constant'])
def test_ill_conditioned_input_is_finite(impl, case):
    x = torch.randn(2, 6, 10)
    if case == 'zero':
        x = torch.zeros(2, 6, 10)
    elif case == 'rank_deficient':
        x = torch.randn(2, 6, 2)  # M = 2 < C: covariance of rank 1
    else:
        x[:, 2] = 3.0
    x.requires_grad_()
    y = isqrt_cov(x, 5, triu=False, impl=impl)
    (gx, ) = torch.autograd.grad((y * torch.randn_like(y)).sum(), x)
    assert torch.isfinite(y).all() and torch.isfinite(gx).all()
    if case == 'zero':
        assert torch.equal(y, torch.zeros_like(y))
    if case == 'constant':
        # A constant channel has zero covariance with everything.
        assert torch.equal(y[:, 2], torch.zeros_like(y[:, 2]))
        assert torch.equal(y[:, :, 2], torch.zeros_like(y[:, :, 2]))
    s = torch.zeros(2, 4, 4, requires_grad=True)
    y = newton_schulz_sqrt(s, 3, impl=impl)
    (gs, ) = torch.autograd.grad(y.sum(), s)
    assert torch.equal(y, torch.zeros_like(y)) and torch.isfinite(gs).all()


@pytest.mark.parametrize('impl', IMPLS)
@pytest.mark.parametrize('bad', [float('nan'), float('inf')])
def test_non_finite_input_raises(impl, bad):
    x = torch.randn(2, 4, 9)
    x[1, 3, 5] = bad
    with pytest.raises(ValueError, match='`x` contains NaN or Inf'):
        isqrt_cov(x, 3, impl=impl)
    s = torch.eye(4).repeat(2, 1, 1)
    s[0, 1, 2] = bad  # off-diagonal: the trace alone would not show it
    with pytest.raises(ValueError, match='`s` contains NaN or Inf'):
        newton_schulz_sqrt(s, 3, impl=impl)


def test_invalid_arguments():
    x = torch.randn(2, 4, 9)
    with pytest.raises(ValueError, match='num_iter'):
        isqrt_cov(x, 0)
    with pytest.raises(ValueError, match='`x` must be'):
        isqrt_cov(torch.randn(4, 9))
    with pytest.raises(ValueError, match='`s` must be'):
        newton_schulz_sqrt(torch.randn(2, 3, 4))
    with pytest.raises(ValueError, match='impl'):
        isqrt_cov(x, impl='fast')


@pytest.mark.skipif(not _ext_has_ops(), reason='mmext._ext without cov ops')
def test_extension_matches_reference_float32():
    x = torch.relu(torch.randn(4, 32, 49)).requires_grad_()
    for triu in (True, False):
        outs, grads = [], []
        for impl in ('ext', 'ref'):
            y = isqrt_cov(x, 5, triu=triu, impl=impl)
            g = torch.linspace(-1, 1, y.numel()).view_as(y)
            outs.append(y.detach())
            grads.append(torch.autograd.grad(y, x, g)[0])
        for a, b in ((outs[0], outs[1]), (grads[0], grads[1])):
            assert ((a - b).norm() / b.norm()).item() < 1e-4


@pytest.mark.parametrize('impl', IMPLS)
def test_torch_compile_fullgraph(impl):
    x = torch.relu(torch.randn(2, 8, 3, 3, dtype=torch.float64))

    def fn(x):
        return isqrt_cov(x, 3, impl=impl).square().sum()

    compiled = torch.compile(fn, fullgraph=True, backend='aot_eager')
    xe, xc = x.clone().requires_grad_(), x.clone().requires_grad_()
    ye, yc = fn(xe), compiled(xc)
    ye.backward()
    yc.backward()
    torch.testing.assert_close(yc, ye)
    torch.testing.assert_close(xc.grad, xe.grad)


@pytest.mark.skipif(
    not os.path.exists(NVCC), reason='no nvcc: CUDA sources not compiled')
def test_extension_compiled_with_cuda():
    assert ext_with_cuda()


@pytest.mark.skipif(
    not torch.cuda.is_available() or not ext_with_cuda(), reason='no GPU')
def test_cuda_matches_cpu():
    x = torch.relu(torch.randn(3, 16, 25, dtype=torch.float64))
    for triu in (True, False):
        outs = []
        for device in ('cpu', 'cuda'):
            xd = x.to(device).requires_grad_()
            y = isqrt_cov(xd, 5, triu=triu, impl='ext')
            g = torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y)
            (gx, ) = torch.autograd.grad(y, xd, g.to(device))
            outs.append((y.detach().cpu(), gx.cpu()))
        torch.testing.assert_close(outs[1], outs[0])
