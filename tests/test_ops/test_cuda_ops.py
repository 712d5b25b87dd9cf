"""mmext's CUDA kernels against the CPU kernels and the pure-PyTorch
references: covariance pooling, Newton-Schulz square root, triu, fused
iSQRT-COV and deformable sampling, in float32 and float64, odd sizes, batch
1, non-contiguous inputs; gradcheck in float64 on the GPU; autocast;
``torch.compile`` with the CUDA kernels.

The truth for each case is the pure-PyTorch reference on the CPU in float64
(and ``F.grid_sample`` for the sampling). Without a GPU, or with an extension
built without CUDA, every test is skipped; ``tools/gpu_check.sh`` sets
``MMEXT_REQUIRE_CUDA_EXT=1``, which makes that a failure, so a broken build
cannot pass as "all skipped".
"""
import os

import pytest
import torch
import torch.nn.functional as F

from mmext.ops import (cov_pool, deform_sample, ext_with_cuda, isqrt_cov,
                       newton_schulz_sqrt, triu_vec)
from mmext.ops.cov_sqrt import _ext_has_ops


def _why_not_ready():
    if not torch.cuda.is_available():
        return 'no CUDA device'
    if not _ext_has_ops() or not ext_with_cuda():
        return 'mmext._ext is missing or was built without CUDA kernels'
    return None


@pytest.fixture(autouse=True)
def cuda_ext():
    """Skip (or, under the GPU check, fail) without CUDA kernels; exact
    float32 matrix products (no TF32) while a test runs."""
    reason = _why_not_ready()
    if reason:
        if os.environ.get('MMEXT_REQUIRE_CUDA_EXT') == '1':
            pytest.fail(reason)
        pytest.skip(reason)
    saved = (torch.backends.cuda.matmul.allow_tf32,
             torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    yield
    (torch.backends.cuda.matmul.allow_tf32,
     torch.backends.cudnn.allow_tf32) = saved


def _rel(a, b):
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    return ((a - b).norm() / b.norm().clamp_min(1e-300)).item()


def _run(fn, inputs, grad_seed=1):
    """``fn(*inputs)`` and the gradients of every floating input for a
    fixed random incoming gradient (drawn on the CPU in float64)."""
    xs = [t.detach().clone().requires_grad_() for t in inputs]
    out = fn(*xs)
    gen = torch.Generator().manual_seed(grad_seed)
    grad = torch.randn(out.shape, generator=gen, dtype=torch.float64)
    grads = torch.autograd.grad(out, xs, grad.to(out.dtype).to(out.device))
    return [out.detach()] + [g.detach() for g in grads]


def _features(b, c, m, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(b, c, m, generator=gen, dtype=torch.float64).relu()


# ------------------------------------------------- covariance square root
COV_FNS = {
    'cov_pool': lambda x, impl: cov_pool(x, impl=impl),
    'pieces': lambda x, impl: triu_vec(
        newton_schulz_sqrt(cov_pool(x, impl=impl), 5, impl=impl), impl=impl),
    'isqrt_cov_triu': lambda x, impl: isqrt_cov(x, 5, impl=impl),
    'isqrt_cov_matrix': lambda x, impl: isqrt_cov(x, 3, triu=False,
                                                  impl=impl),
}
# batch 1, odd sizes, C above a 128 tile, M < C (rank deficient), M = 1
COV_SHAPES = [(1, 7, 13), (3, 33, 50), (2, 64, 196), (2, 130, 49), (2, 5, 1)]
# float32 against the float64 truth: outputs / gradients
TOL32 = (1e-4, 1e-3)


@pytest.mark.parametrize('shape', COV_SHAPES, ids=str)
@pytest.mark.parametrize('fn', sorted(COV_FNS))
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64], ids=str)
def test_cov_cuda_vs_cpu_vs_reference(fn, shape, dtype):
    f = COV_FNS[fn]
    x = _features(*shape, seed=sum(shape))
    truth = _run(lambda t: f(t, 'ref'), [x])
    cpu_ext = _run(lambda t: f(t, 'ext'), [x.to(dtype)])
    cuda_ext = _run(lambda t: f(t, 'ext'), [x.to(dtype).cuda()])
    cuda_ref = _run(lambda t: f(t, 'ref'), [x.to(dtype).cuda()])
    assert cuda_ext[0].is_cuda and cuda_ext[0].dtype == dtype
    tight = 1e-10 if dtype == torch.float64 else 1e-5
    for name, res in (('cuda ext', cuda_ext), ('cuda ref', cuda_ref)):
        for i, (a, t) in enumerate(zip(res, truth)):
            tol = tight if dtype == torch.float64 else TOL32[min(i, 1)]
            assert _rel(a, t) < tol, (name, 'output' if i == 0 else 'grad')
            assert torch.isfinite(a).all()
    for a, c in zip(cuda_ext, cpu_ext):  # same dtype, other kernels
        assert _rel(a, c) < (tight if dtype == torch.float64 else 1e-4)


def test_cov_non_contiguous_inputs_and_gradients():
    x = _features(3, 24, 35, seed=5).float().cuda()
    base = _run(lambda t: isqrt_cov(t, 5, impl='ext'), [x])
    # the same values through a transposed copy and as a channels-last map
    xt = x.transpose(1, 2).contiguous().transpose(1, 2)
    assert not xt.is_contiguous()
    torch.testing.assert_close(
        _run(lambda t: isqrt_cov(t, 5, impl='ext'), [xt]), base)
    x4 = x.view(3, 24, 5, 7).contiguous(memory_format=torch.channels_last)
    out4 = _run(lambda t: isqrt_cov(t, 5, impl='ext'), [x4])
    torch.testing.assert_close(out4[0], base[0])
    torch.testing.assert_close(out4[1].reshape(3, 24, 35), base[1])
    # a strided incoming gradient
    xg = x.clone().requires_grad_()
    y = isqrt_cov(xg, 5, impl='ext')
    g = torch.randn(y.size(0), 2 * y.size(1), device='cuda')[:, ::2]
    assert not g.is_contiguous()
    (gx, ) = torch.autograd.grad(y, xg, g)
    xr = x.double().cpu().requires_grad_()
    (gx_ref, ) = torch.autograd.grad(
        isqrt_cov(xr, 5, impl='ref'), xr, g.double().cpu())
    assert _rel(gx, gx_ref) < TOL32[1]
    # a strided SPD matrix (principal submatrix) for the square root
    s_big = cov_pool(_features(2, 40, 90, seed=6).cuda(), impl='ref')
    s = s_big[:, ::2, ::2]
    assert not s.is_contiguous()
    torch.testing.assert_close(
        _run(lambda t: newton_schulz_sqrt(t, 5, impl='ext'), [s]),
        _run(lambda t: newton_schulz_sqrt(t, 5, impl='ref'),
             [s.contiguous()]))


def test_cov_gradcheck_float64_cuda():
    x = _features(2, 5, 12, seed=7).cuda().requires_grad_()
    for triu in (True, False):
        assert torch.autograd.gradcheck(
            lambda t: isqrt_cov(t, 3, triu=triu, impl='ext'), (x, ))
    assert torch.autograd.gradcheck(lambda t: cov_pool(t, impl='ext'), (x, ))
    s = cov_pool(_features(2, 4, 9, seed=8), impl='ref').cuda()
    assert torch.autograd.gradcheck(
        lambda t: newton_schulz_sqrt(t, 4, impl='ext'),
        (s.requires_grad_(), ))
    m = torch.randn(2, 5, 5, dtype=torch.float64, device='cuda')
    assert torch.autograd.gradcheck(lambda t: triu_vec(t, impl='ext'),
                                    (m.requires_grad_(), ))


def test_cov_ill_conditioned_and_bad_input_cuda():
    zero = torch.zeros(2, 6, 10, device='cuda', requires_grad=True)
    y = isqrt_cov(zero, 5, impl='ext')
    assert torch.count_nonzero(y) == 0
    (g, ) = torch.autograd.grad(y.sum(), zero)
    assert torch.isfinite(g).all()
    const = torch.ones(2, 6, 10, device='cuda')
    assert torch.isfinite(isqrt_cov(const, 5, impl='ext')).all()
    bad = _features(2, 4, 8).cuda()
    bad[1, 2, 3] = float('nan')
    with pytest.raises(ValueError, match='isqrt_cov'):
        isqrt_cov(bad, 3, impl='ext')


def test_cov_benchmark_shape_cuda():
    """The benchmark's first shape, where launch and tile limits show."""
    x = _features(32, 256, 196, seed=9).float().cuda()
    ext = _run(lambda t: isqrt_cov(t, 5, impl='ext'), [x])
    ref = _run(lambda t: isqrt_cov(t, 5, impl='ref'), [x.double()])
    assert _rel(ext[0], ref[0]) < TOL32[0]
    assert _rel(ext[1], ref[1]) < TOL32[1]


# ---------------------------------------------------- deformable sampling
def _grid_sample(x, g):
    return F.grid_sample(x, g, mode='bilinear', padding_mode='zeros',
                         align_corners=True)


def _sampling_inputs(n, c, h, w, hk, wk, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, h, w, generator=gen, dtype=torch.float64)
    # beyond the borders too (zeros padding)
    g = torch.rand(n, hk, wk, 2, generator=gen, dtype=torch.float64) * 2.4 \
        - 1.2
    return x, g


SAMPLE_SHAPES = [
    (1, 3, 5, 7, 4, 9),  # batch 1, odd sizes
    (6, 128, 14, 14, 14, 14),  # DAT-T stage-3 keys/values (2 images)
    (6, 4, 27, 27, 196, 196),  # DAT-T stage-3 bias table
    (5, 33, 1, 9, 3, 2),  # one-row map
]


@pytest.mark.parametrize('shape', SAMPLE_SHAPES, ids=str)
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64], ids=str)
def test_sample_cuda_vs_cpu_vs_grid_sample(shape, dtype):
    x, g = _sampling_inputs(*shape, seed=sum(shape))
    truth = _run(_grid_sample, [x, g])
    cpu_ext = _run(deform_sample, [x.to(dtype), g.to(dtype)])
    cuda_ext = _run(deform_sample, [x.to(dtype).cuda(), g.to(dtype).cuda()])
    cuda_ref = _run(_grid_sample, [x.to(dtype).cuda(), g.to(dtype).cuda()])
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    for a, t in zip(cuda_ext, truth):
        assert _rel(a, t) < tol
    for a, c in zip(cuda_ext, cpu_ext):
        assert _rel(a, c) < tol
    for a, r in zip(cuda_ext, cuda_ref):
        assert _rel(a, r) < tol


def test_sample_non_contiguous_and_partial_gradients():
    x, g = _sampling_inputs(2, 6, 5, 8, 7, 3, seed=3)
    x, g = x.float().cuda(), g.float().cuda()
    xc = x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)  # NHWC view
    gt = g.transpose(1, 2).contiguous().transpose(1, 2)
    assert not xc.is_contiguous() and not gt.is_contiguous()
    torch.testing.assert_close(_run(deform_sample, [xc, gt]),
                               _run(_grid_sample, [x, g]), rtol=0,
                               atol=1e-5)
    # a strided incoming gradient, and gradients for one argument only
    y = deform_sample(x.requires_grad_(), g)
    grad = torch.randn(*y.shape[:3], 2 * y.size(3), device='cuda')[..., ::2]
    (gx, ) = torch.autograd.grad(y, x, grad)
    x_ref = x.detach().requires_grad_()
    (gx_ref, ) = torch.autograd.grad(_grid_sample(x_ref, g), x_ref, grad)
    torch.testing.assert_close(gx, gx_ref, rtol=0, atol=1e-5)
    g2 = g.detach().requires_grad_()
    (gg, ) = torch.autograd.grad(deform_sample(x.detach(), g2), g2, grad)
    g2_ref = g.detach().requires_grad_()
    (gg_ref, ) = torch.autograd.grad(_grid_sample(x.detach(), g2_ref), g2_ref,
                                     grad)
    torch.testing.assert_close(gg, gg_ref, rtol=0, atol=1e-4)


def test_sample_gradcheck_float64_cuda():
    x, g = _sampling_inputs(2, 3, 5, 6, 4, 3, seed=4)
    assert torch.autograd.gradcheck(
        deform_sample,
        (x.cuda().requires_grad_(), g.cuda().requires_grad_()))


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16], ids=str)
def test_sample_low_precision_kernel(dtype):
    x, g = _sampling_inputs(3, 8, 7, 7, 5, 5, seed=5)
    x, g = x.to(dtype).cuda(), g.to(dtype).cuda()
    y = deform_sample(x, g)
    assert y.dtype == dtype
    torch.testing.assert_close(
        y.float(), _grid_sample(x.float(), g.float()), rtol=0, atol=2e-2)


# -------------------------------------------------------------- autocast
@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16], ids=str)
def test_autocast_isqrt_cov_neck_in_float32(dtype):
    """ISQRTCOVNeck documents that the pooling runs in float32 under mixed
    precision: half inputs give the float32 result of the same values."""
    from mmext.models.necks import ISQRTCOVNeck
    neck = ISQRTCOVNeck(in_channels=64, reduced_channels=None,
                        num_iter=5).cuda()
    x = _features(2, 64, 49, seed=10).view(2, 64, 7, 7).to(dtype).cuda()
    with torch.autocast('cuda', dtype=dtype):
        (out, ) = neck(x)
    assert out.dtype == torch.float32
    (expected, ) = neck(x.float())
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16], ids=str)
def test_autocast_deform_sample_as_grid_sample(dtype):
    """Under autocast the op agrees with ``F.grid_sample`` under autocast
    (on CUDA its "promote" policy: half arguments stay half, a float32
    argument makes both float32): same output dtype, same values."""
    x, g = _sampling_inputs(4, 16, 9, 9, 6, 6, seed=11)
    x, g = x.float().cuda(), g.float().cuda()
    for x_dtype in (dtype, torch.float32):
        with torch.autocast('cuda', dtype=dtype):
            # as produced by earlier layers (DAT: float32 features, a
            # half-precision grid from the offset conv)
            xs, gs = x.to(x_dtype), g.to(dtype)
            y = deform_sample(xs, gs)
            y_ref = _grid_sample(xs, gs)
        assert y.dtype == y_ref.dtype
        # half results may differ in the last bit (one rounding each)
        atol = {torch.float32: 1e-5, torch.float16: 2e-3,
                torch.bfloat16: 2e-2}[y.dtype]
        torch.testing.assert_close(y.float(), y_ref.float(), rtol=0,
                                   atol=atol)


# --------------------------------------------------------- torch.compile
def test_fake_kernels_on_cuda():
    x = _features(2, 6, 10).float().cuda()
    isqrt_cov(x, 3)  # registers the fake kernels
    torch.library.opcheck(
        torch.ops.mmext.isqrt_cov_forward.default, (x, 3, 1e-8, True),
        test_utils=('test_schema', 'test_faketensor'))
    xs, g = _sampling_inputs(2, 3, 4, 4, 3, 3)
    xs, g = xs.float().cuda(), g.float().cuda()
    deform_sample(xs, g)
    torch.library.opcheck(
        torch.ops.mmext.deform_sample_forward.default, (xs, g),
        test_utils=('test_schema', 'test_faketensor'))


def test_torch_compile_inductor_with_cuda_kernels():
    """One inductor graph around both CUDA ops: the traced graph calls the
    compiled ops (not the fallbacks), values and gradients match eager."""
    traced_ops = set()

    def recording_backend(gm, example_inputs):
        for mod in gm.modules():  # autograd.Functions are subgraphs
            if isinstance(mod, torch.fx.GraphModule):
                traced_ops.update(
                    str(n.target) for n in mod.graph.nodes
                    if n.op == 'call_function')
        from torch._inductor.compile_fx import compile_fx
        return compile_fx(gm, example_inputs)

    def fn(x, feat, grid):
        pooled = isqrt_cov(x.relu(), 5)
        sampled = deform_sample(feat * 2, grid.tanh())
        return pooled.square().sum() + sampled.square().mean()

    x = torch.randn(4, 32, 49, device='cuda')
    feat, grid = _sampling_inputs(4, 8, 7, 7, 5, 5, seed=12)
    feat, grid = feat.float().cuda(), grid.float().cuda()
    eager = _run(fn, [x, feat, grid])
    compiled = torch.compile(fn, backend=recording_backend, fullgraph=True)
    got = _run(compiled, [x, feat, grid])
    for op in ('isqrt_cov_forward', 'deform_sample_forward'):
        assert any(op in t for t in traced_ops), (op, traced_ops)
    for a, b in zip(got, eager):
        assert _rel(a, b) < 1e-5
