"""mmext.ops.deform_sample against F.grid_sample (bilinear, zeros,
align_corners=True) and a slow per-point loop, on both paths: the compiled
kernel (torch.ops.mmext) and the pure-PyTorch fallback."""
import importlib
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck

from mmext.ops import deform_sample, deform_sample_reference, ext_available

# the module (``mmext.ops.deform_sample`` the attribute is the function)
ds_module = importlib.import_module('mmext.ops.deform_sample')

needs_ext = pytest.mark.skipif(
    not ext_available(), reason='mmext._ext is not built')


@pytest.fixture(params=['kernel', 'reference'])
def path(request, monkeypatch):
    """Run the test through the compiled kernel and through the fallback."""
    if request.param == 'kernel':
        if not ext_available():
            pytest.skip('mmext._ext is not built')
    else:
        monkeypatch.setattr(ds_module, '_use_kernel', lambda x: False)
    return request.param


def grid_sample(x, g):
    return F.grid_sample(
        x, g, mode='bilinear', padding_mode='zeros', align_corners=True)


def slow_bilinear(x, g):
    """Per-point loop with align_corners=True unnormalisation (independent
    of grid_sample)."""
    n, c, h, w = x.shape
    out = torch.zeros(n, c, g.shape[1], g.shape[2], dtype=x.dtype)
    for b in range(n):
        for i in range(g.shape[1]):
            for j in range(g.shape[2]):
                px = (g[b, i, j, 0].item() + 1) / 2 * (w - 1)
                py = (g[b, i, j, 1].item() + 1) / 2 * (h - 1)
                x0, y0 = int(torch.floor(torch.tensor(px))), int(
                    torch.floor(torch.tensor(py)))
                for yy in (y0, y0 + 1):
                    for xx in (x0, x0 + 1):
                        if 0 <= yy < h and 0 <= xx < w:
                            wgt = (1 - abs(px - xx)) * (1 - abs(py - yy))
                            out[b, :, i, j] += wgt * x[b, :, yy, xx]
    return out


def border_grid(n, hk, wk, h, w, dtype=torch.float32):
    """Random positions inside and outside [-1, 1], plus points exactly on
    pixel centres, on the borders +-1 and one pixel beyond them."""
    g = torch.rand(n, hk, wk, 2, dtype=dtype) * 3 - 1.5
    exact = torch.tensor([-1.0, 1.0, 0.0, -1 - 2 / (w - 1), 1 + 2 / (w - 1),
                          -1 + 2 / (w - 1), 1 - 1e-7, -1 + 1e-7],
                         dtype=dtype)
    g[:, 0, :len(exact), 0] = exact[:wk]
    g[:, 0, :len(exact), 1] = -1.0
    g[:, 1, :len(exact), 1] = exact[:wk]
    g[:, 1, :len(exact), 0] = 1.0
    return g


def test_matches_slow_loop(path):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 6, dtype=torch.float64)
    g = border_grid(2, 3, 8, 5, 6, torch.float64)
    torch.testing.assert_close(
        deform_sample(x, g), slow_bilinear(x, g), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize('shape', [(6, 32, 14, 14, 14, 14),
                                   (4, 5, 7, 9, 3, 11), (3, 2, 1, 4, 2, 2),
                                   (2, 3, 4, 1, 5, 2)])
def test_matches_grid_sample_float32(path, shape):
    n, c, h, w, hk, wk = shape
    torch.manual_seed(1)
    x = torch.randn(n, c, h, w, requires_grad=True)
    g = border_grid(n, hk, max(wk, 8), h, max(w, 2)).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    g_ref = g.detach().clone().requires_grad_()
    y = deform_sample(x, g)
    y_ref = grid_sample(x_ref, g_ref)
    torch.testing.assert_close(y, y_ref, rtol=0, atol=1e-5)
    gy = torch.randn_like(y)
    y.backward(gy)
    y_ref.backward(gy)
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=0, atol=1e-5)
    # a position exactly on a pixel centre has a one-sided derivative; the
    # kernels take the side grid_sample takes (floor), so they agree there too
    torch.testing.assert_close(g.grad, g_ref.grad, rtol=1e-5, atol=1e-4)


def test_gradcheck_float64(path):
    torch.manual_seed(2)
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    # keep positions away from pixel centres, where bilinear sampling is not
    # differentiable and finite differences straddle a kink
    g = (torch.rand(2, 3, 4, 2, dtype=torch.float64) * 2.6 - 1.3)
    ix = (g + 1) / 2 * torch.tensor([4.0, 3.0], dtype=torch.float64)
    g = torch.where((ix - ix.round()).abs() < 0.05, g + 0.05, g)
    g.requires_grad_()
    assert gradcheck(deform_sample, (x, g), eps=1e-6, atol=1e-7)
    # each input alone (the kernel skips the gradient it is not asked for)
    assert gradcheck(lambda a: deform_sample(a, g.detach()), (x, ))
    assert gradcheck(lambda b: deform_sample(x.detach(), b), (g, ))


def test_outside_reads_zeros(path):
    x = torch.randn(1, 2, 3, 3)
    g = torch.tensor([[[[-3.0, 0.0], [0.0, 3.0], [1e30, -1e30], [-2.0,
                                                                  -2.0]]]])
    x.requires_grad_()
    g.requires_grad_()
    y = deform_sample(x, g)
    assert torch.equal(y, torch.zeros(1, 2, 1, 4))
    y.sum().backward()
    assert torch.equal(x.grad, torch.zeros_like(x))
    assert torch.equal(g.grad, torch.zeros_like(g))


def test_non_finite_positions(path):
    """deform_sample refuses NaN / inf positions (test_op_validation.py);
    unchecked, as under torch.compile, the kernel does what F.grid_sample
    does: NaN output for that sample, non-finite position gradient, no
    contribution to the features' gradient; other samples unaffected."""
    torch.manual_seed(3)
    x = torch.randn(1, 3, 4, 4, requires_grad=True)
    g = torch.tensor([[[[float('nan'), 0.0], [0.2, float('inf')],
                        [0.3, -0.4], [-1.0, 1.0]]]],
                     requires_grad=True)
    with pytest.raises(ValueError, match='`grid` contains NaN or Inf'):
        deform_sample(x, g)
    if path == 'kernel':
        assert ds_module._register()  # attaches the kernel's autograd
        y = torch.ops.mmext.deform_sample_forward(x, g)
    else:
        y = deform_sample_reference(x, g)
    assert torch.isnan(y[..., :2]).all()
    torch.testing.assert_close(y[..., 2:], grid_sample(x, g[:, :, 2:])
                               .detach())
    (y[..., :2].nan_to_num(0).sum() + y[..., 2:].sum()).backward()
    x_ref = x.detach().clone().requires_grad_()
    grid_sample(x_ref, g.detach()[:, :, 2:]).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad)
    assert not torch.isfinite(g.grad[0, 0, 0]).all()
    assert not torch.isfinite(g.grad[0, 0, 1]).all()
    assert torch.isfinite(g.grad[0, 0, 2:]).all()


def test_bad_arguments():
    x = torch.randn(2, 3, 4, 4)
    g = torch.zeros(2, 5, 5, 2)
    with pytest.raises(ValueError, match='`input`'):
        deform_sample(x[0], g)
    with pytest.raises(ValueError, match='`grid`'):
        deform_sample(x, g[..., :1])
    with pytest.raises(ValueError, match='`grid`'):
        deform_sample(x, g[0])
    with pytest.raises(ValueError, match='`grid` has 1 maps'):
        deform_sample(x, g[:1])
    with pytest.raises(ValueError, match='`grid` dtype'):
        deform_sample(x, g.double())
    with pytest.raises(ValueError, match='`input` must be floating'):
        deform_sample(x.long(), g)
    with pytest.raises(ValueError, match='`input` has no spatial positions'):
        deform_sample(torch.randn(2, 3, 0, 4), g)


def test_empty_and_strided(path):
    # zero channels / zero points, and non-contiguous inputs
    x = torch.randn(2, 0, 3, 3)
    assert deform_sample(x, torch.zeros(2, 2, 2, 2)).shape == (2, 0, 2, 2)
    x = torch.randn(2, 3, 4, 4)
    assert deform_sample(x, torch.zeros(2, 0, 3, 2)).shape == (2, 3, 0, 3)
    x = torch.randn(2, 4, 5, 3).permute(0, 3, 1, 2)  # channels-last view
    g = (torch.rand(2, 6, 3, 2) * 2 - 1).transpose(1, 2)
    torch.testing.assert_close(
        deform_sample(x, g), grid_sample(x, g), rtol=0, atol=1e-6)


@needs_ext
def test_low_precision_kernel():
    torch.manual_seed(4)
    x = torch.randn(3, 8, 7, 7)
    g = torch.rand(3, 5, 5, 2) * 2.2 - 1.1
    for dtype in (torch.bfloat16, torch.float16):
        y = deform_sample(x.to(dtype), g.to(dtype))
        assert y.dtype == dtype
        torch.testing.assert_close(
            y.float(), grid_sample(x, g.to(dtype).float()), rtol=0,
            atol=2e-2)


@pytest.mark.parametrize('grid_dtype', [torch.bfloat16, torch.float32])
def test_autocast_computes_in_float32_like_grid_sample(grid_dtype):
    """Under autocast the op follows F.grid_sample's policy: half inputs
    (DAT passes float32 features with a bfloat16 grid from its offset conv)
    are computed in float32, on both paths."""
    torch.manual_seed(6)
    x = torch.randn(2, 4, 6, 5)
    g = (torch.rand(2, 3, 4, 2) * 2.2 - 1.1).to(grid_dtype)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        y_ref = grid_sample(x.to(torch.bfloat16), g)
        for xi in (x, x.to(torch.bfloat16)):
            y = deform_sample(xi, g)
            assert y.dtype == y_ref.dtype == torch.float32
            torch.testing.assert_close(
                y, grid_sample(xi.float(), g.float()), rtol=0, atol=1e-6)


@needs_ext
def test_registered_op_and_compile():
    x = torch.randn(2, 3, 4, 4, requires_grad=True)
    g = (torch.rand(2, 3, 3, 2) * 2 - 1).requires_grad_()
    deform_sample(x, g)  # registers the autograd/fake kernels
    torch.library.opcheck(
        torch.ops.mmext.deform_sample_forward.default, (x, g),
        test_utils=('test_schema', 'test_autograd_registration',
                    'test_faketensor'))
    compiled = torch.compile(deform_sample, backend='eager', fullgraph=True)
    y = compiled(x, g)
    torch.testing.assert_close(y, grid_sample(x, g), rtol=0, atol=1e-5)
    y.sum().backward()
    assert x.grad is not None and g.grad is not None


def test_fallback_without_extension(monkeypatch):
    """Without mmext._ext the op warns once and uses F.grid_sample."""
    from mmext.ops import ext_loader
    ext_loader.load_ext.cache_clear()

    def missing(name, *args, **kwargs):
        if name == 'mmext._ext':
            raise ImportError('No module named mmext._ext')
        return real_import(name, *args, **kwargs)

    real_import = importlib.import_module
    monkeypatch.setattr(importlib, 'import_module', missing)
    try:
        x = torch.randn(2, 3, 4, 4)
        g = torch.rand(2, 3, 3, 2) * 2 - 1
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            y1 = deform_sample(x, g)
            y2 = deform_sample(x, g)
        assert sum('compiled ops are not available' in str(w.message)
                   for w in caught) == 1
        assert torch.equal(y1, deform_sample_reference(x, g))
        assert torch.equal(y2, y1)
    finally:
        monkeypatch.undo()
        ext_loader.load_ext.cache_clear()
