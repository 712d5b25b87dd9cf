"""mmengine's FLOP counter counts mmext's ops (handles in mmext.ops.flops):
totals against closed forms, on the compiled and the pure-PyTorch paths."""
import importlib

import pytest
import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer, get_model_complexity_info
from torch.utils._python_dispatch import TorchDispatchMode

import mmext  # noqa: F401  (registers the handles)
from mmext.ops import (cov_pool, deform_sample, ext_available, isqrt_cov,
                       newton_schulz_sqrt, triu_vec)
from mmext.ops import cov_sqrt_ref
from mmext.ops.flops import newton_schulz_products

ds_module = importlib.import_module('mmext.ops.deform_sample')


@pytest.fixture(params=['ext', 'ref'])
def impl(request, monkeypatch):
    """Both paths: the compiled ops and the pure-PyTorch fallback."""
    if request.param == 'ext' and not ext_available():
        pytest.skip('mmext._ext is not built')
    if request.param == 'ref':
        monkeypatch.setattr(ds_module, '_use_kernel', lambda x: False)
    return request.param


class Call(nn.Module):
    """Wraps a function of tensors so that the analyzer can trace it."""

    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


def count(fn, *inputs) -> int:
    analyzer = FlopAnalyzer(Call(fn), inputs)
    analyzer.unsupported_ops_warnings(False)
    total = analyzer.total()
    assert not [op for op in analyzer.unsupported_ops()
                if 'mmext' in op or 'PythonOp' in op]
    return total


def test_deform_sample(impl):
    x = torch.randn(2, 3, 5, 6)
    g = torch.rand(2, 4, 7, 2) * 2 - 1
    # 4 multiply-adds (corners) per output value; the fallback's
    # aten::grid_sampler is counted the same way by mmengine
    assert count(deform_sample, x, g) == 4 * 2 * 3 * 4 * 7


class CountMatmuls(TorchDispatchMode):
    """Multiply-adds of every bmm / baddbmm the reference code runs."""

    def __init__(self) -> None:
        super().__init__()
        self.macs = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in (torch.ops.aten.bmm.default, torch.ops.aten.bmm.out):
            a, b = args[0], args[1]
        elif func in (torch.ops.aten.baddbmm.default,
                      torch.ops.aten.baddbmm.out):
            a, b = args[1], args[2]
        else:
            return func(*args, **kwargs)
        self.macs += a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2]
        return func(*args, **kwargs)


@pytest.mark.parametrize('num_iter', [1, 2, 3, 5])
def test_newton_schulz_products_match_the_reference_loop(num_iter):
    s = torch.randn(2, 6, 6, dtype=torch.float64)
    s = s @ s.transpose(1, 2)
    with CountMatmuls() as counter:
        cov_sqrt_ref.sqrtm_forward(s, num_iter, 1e-12)
    assert counter.macs == 2 * 6**3 * newton_schulz_products(num_iter)
    # the paper's count for its default of 5 iterations
    assert newton_schulz_products(5) == 12


@pytest.mark.parametrize('num_iter', [1, 5])
def test_covariance_ops(impl, num_iter):
    b, c, h, w = 2, 8, 3, 4
    x = torch.randn(b, c, h, w)
    cov = b * c * c * h * w
    sqrt = b * c**3 * newton_schulz_products(num_iter)
    assert count(lambda t: cov_pool(t, impl=impl), x) == cov
    s = cov_pool(x)
    assert count(lambda t: newton_schulz_sqrt(t, num_iter, impl=impl),
                 s) == sqrt
    assert count(lambda t: triu_vec(t, impl=impl), s) == 0
    for triu in (True, False):
        assert count(
            lambda t: isqrt_cov(t, num_iter, triu=triu, impl=impl),
            x) == cov + sqrt


def test_complexity_info_counts_the_ops():
    """``get_model_complexity_info`` (what tools/analysis_tools/benchmark.py
    prints) includes the op: conv FLOPs plus the sampling's."""

    class Net(nn.Module):

        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 1, bias=False)

        def forward(self, x):
            grid = x.new_zeros(x.size(0), 5, 5, 2)
            return deform_sample(self.conv(x), grid)

    info = get_model_complexity_info(
        Net(), input_shape=(3, 6, 6), show_table=False, show_arch=False)
    assert info['flops'] == 3 * 4 * 6 * 6 + 4 * 4 * 5 * 5
