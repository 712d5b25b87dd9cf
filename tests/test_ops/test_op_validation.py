"""Every public op refuses bad input with one ValueError naming the op, the
argument and the problem, the same on the compiled path (torch.ops.mmext)
and on the pure-PyTorch path."""
import importlib
import re

import numpy as np
import pytest
import torch

from mmext.ops import (cov_pool, cross_cov_pool, deform_sample,
                       ext_available, isqrt_cov, newton_schulz_sqrt,
                       triu_vec)
from mmext.ops import cov_sqrt_ref as ref
from mmext.ops.cov_sqrt import _ext_has_ops

ds_module = importlib.import_module('mmext.ops.deform_sample')


def _call(op, path, args, monkeypatch):
    """Run ``op`` on ``path`` ('ext' or 'ref'); return the ValueError."""
    if op is deform_sample:
        if path == 'ext' and not ext_available():
            pytest.skip('mmext._ext is not built')
        with monkeypatch.context() as m:
            if path == 'ref':
                m.setattr(ds_module, '_use_kernel', lambda device: False)
            with pytest.raises(ValueError) as info:
                deform_sample(*args)
        return info.value
    if op is cross_cov_pool:  # pure PyTorch, one path
        with pytest.raises(ValueError) as info:
            cross_cov_pool(*args)
        return info.value
    if path == 'ext' and not _ext_has_ops():
        pytest.skip('mmext._ext without cov ops')
    with pytest.raises(ValueError) as info:
        op(*args, impl=path)
    return info.value


def _spoil(t, index, value):
    t = t.clone()
    t[index] = value
    return t


X = torch.randn(2, 4, 9)
S = torch.eye(4).repeat(2, 1, 1) + 0.1
FEAT = torch.randn(2, 3, 4, 4)
GRID = torch.rand(2, 5, 5, 2) * 2 - 1

# op, its arguments, the argument that is wrong, expected message (regex)
CASES = {
    # non-finite values, anywhere (off-diagonal entries included)
    'cov_pool-nan': (cov_pool, (_spoil(X, (1, 2, 3), float('nan')), ), 'x',
                     r'contains NaN or Inf \(1 of 72 values, the first at '
                     r'index \(1, 2, 3\)\)'),
    'isqrt_cov-inf': (isqrt_cov, (_spoil(X, (0, 3, 8), float('inf')), ),
                      'x', r'contains NaN or Inf \(1 of 72 values, the first '
                      r'at index \(0, 3, 8\)\)'),
    'isqrt_cov-4d-ninf': (isqrt_cov,
                          (_spoil(X.view(2, 4, 3, 3), (1, 0, 2, 1),
                                  float('-inf')), ), 'x',
                          r'contains NaN or Inf \(1 of 72 values, the first '
                          r'at index \(1, 0, 2, 1\)\)'),
    'cross_cov_pool-nan': (cross_cov_pool,
                           (X, _spoil(X, (0, 0, 0), float('nan'))), 'x2',
                           'contains NaN or Inf'),
    'newton_schulz_sqrt-offdiag-nan': (newton_schulz_sqrt,
                                       (_spoil(S, (0, 1, 2), float('nan')), ),
                                       's', r'contains NaN or Inf \(1 of 32 '
                                       r'values, the first at index '
                                       r'\(0, 1, 2\)\)'),
    'triu_vec-inf': (triu_vec, (_spoil(S, (1, 3, 0), float('inf')), ), 'm',
                     'contains NaN or Inf'),
    'deform_sample-input-nan': (deform_sample,
                                (_spoil(FEAT, (1, 2, 3, 3), float('nan')),
                                 GRID), 'input', 'contains NaN or Inf'),
    'deform_sample-grid-nan': (deform_sample,
                               (FEAT, _spoil(GRID, (1, 0, 4, 1),
                                             float('nan'))), 'grid',
                               r'contains NaN or Inf \(1 of 100 values, the '
                               r'first at index \(1, 0, 4, 1\)\)'),
    'deform_sample-grid-inf': (deform_sample,
                               (FEAT, _spoil(GRID, (0, 0, 0, 0),
                                             float('inf'))), 'grid',
                               'contains NaN or Inf'),
    # no spatial positions
    'cov_pool-empty': (cov_pool, (torch.randn(2, 4, 0), ), 'x',
                       r'has no spatial positions \(M = 0 in shape '
                       r'\(2, 4, 0\)\)'),
    'isqrt_cov-empty': (isqrt_cov, (torch.randn(2, 4, 0), ), 'x',
                        r'has no spatial positions \(M = 0'),
    'isqrt_cov-empty-w': (isqrt_cov, (torch.randn(2, 4, 3, 0), ), 'x',
                          r'has no spatial positions \(W = 0 in shape '
                          r'\(2, 4, 3, 0\)\)'),
    'cross_cov_pool-empty': (cross_cov_pool,
                             (torch.randn(2, 4, 0), torch.randn(2, 3, 0)),
                             'x1', 'has no spatial positions'),
    'deform_sample-empty': (deform_sample, (torch.randn(2, 3, 0, 4), GRID),
                            'input', r'has no spatial positions \(H = 0'),
    # wrong dtype
    'cov_pool-int': (cov_pool, (X.long(), ), 'x',
                     'must be floating point, but got torch.int64'),
    'isqrt_cov-bool': (isqrt_cov, (X > 0, ), 'x',
                       'must be floating point, but got torch.bool'),
    'cross_cov_pool-mixed': (cross_cov_pool, (X, X.double()), 'x2',
                             'dtype torch.float64 differs from `x1` dtype '
                             'torch.float32'),
    'newton_schulz_sqrt-int': (newton_schulz_sqrt, (S.int(), ), 's',
                               'must be floating point, but got torch.int32'),
    'triu_vec-complex': (triu_vec, (S.to(torch.complex64), ), 'm',
                         'must be floating point, but got torch.complex64'),
    'deform_sample-int': (deform_sample, (FEAT.long(), GRID), 'input',
                          'must be floating point, but got torch.int64'),
    'deform_sample-grid-dtype': (deform_sample, (FEAT, GRID.double()), 'grid',
                                 'dtype torch.float64 differs from `input`'),
    # wrong number of dimensions or shape
    'cov_pool-2d': (cov_pool, (X[0], ), 'x',
                    r'must be 3-D \(B, C, M\) or 4-D \(B, C, H, W\), but got '
                    r'a 2-D tensor of shape \(4, 9\)'),
    'isqrt_cov-5d': (isqrt_cov, (X.view(2, 4, 3, 3, 1), ), 'x',
                     'but got a 5-D tensor'),
    'newton_schulz_sqrt-not-square': (newton_schulz_sqrt,
                                      (torch.randn(2, 3, 4), ), 's',
                                      r'must be \(B, C, C\), but got shape '
                                      r'\(2, 3, 4\)'),
    'triu_vec-2d': (triu_vec, (S[0], ), 'm', r'must be 3-D \(B, C, C\)'),
    'deform_sample-grid-last': (deform_sample, (FEAT, GRID[..., :1]), 'grid',
                                r'must be \(N, Hk, Wk, 2\), but got shape '
                                r'\(2, 5, 5, 1\)'),
    'deform_sample-3d': (deform_sample, (FEAT[0], GRID), 'input',
                         r'must be 4-D \(N, C, H, W\)'),
    'deform_sample-maps': (deform_sample, (FEAT, GRID[:1]), 'grid',
                           'has 1 maps but `input` has 2'),
    'cross_cov_pool-positions': (cross_cov_pool, (X, X[..., :5]), 'x1',
                                 'must share the batch size and the number of '
                                 'positions'),
    # not a tensor
    'cov_pool-list': (cov_pool, ([[1.0]], ), 'x',
                      'must be a tensor, but got list'),
    'deform_sample-grid-array': (deform_sample, (FEAT, GRID.numpy()), 'grid',
                                 'must be a tensor, but got ndarray'),
}


@pytest.mark.parametrize('case', sorted(CASES))
def test_one_error_on_both_paths(case, monkeypatch):
    op, args, name, problem = CASES[case]
    messages = [
        str(_call(op, path, args, monkeypatch)) for path in ('ref', 'ext')
    ]
    assert messages[0] == messages[1]
    assert messages[0].startswith(f'{op.__name__}: `{name}` '), messages[0]
    assert re.search(problem, messages[0]), messages[0]


@pytest.mark.parametrize('op', [cov_pool, isqrt_cov])
def test_covariance_overflow(op, monkeypatch):
    # Finite float32 features whose covariance does not fit float32:
    # unchecked, the reference overflows (independent evidence).
    x = X * 1e19
    sigma, _ = ref.cov_pool_forward(x)
    assert not torch.isfinite(sigma).all()
    messages = {str(_call(op, path, (x, ), monkeypatch))
                for path in ('ref', 'ext')}
    assert len(messages) == 1
    assert re.fullmatch(
        rf'{op.__name__}: the covariance of `x` overflows torch.float32 '
        r'\(values too large: the largest channel variance is .*\)',
        messages.pop())


def test_large_mean_half_is_not_refused():
    # float16 features around 60: the sums of squares (M * 3600 > 65504)
    # exceed the dtype, the centred covariance does not, so the exact check
    # lets them through, and the result is right (numpy.cov in float64).
    g = torch.Generator().manual_seed(0)
    x = (60 + torch.randn(2, 5, 40, generator=g)).half()
    sigma = cov_pool(x, impl='ref')
    assert torch.isfinite(sigma).all()
    expected = np.stack([np.cov(b, bias=True) for b in x.double().numpy()])
    np.testing.assert_allclose(sigma.double().numpy(), expected, atol=0.05)
    # Standard deviation 45: M * var ~ 40 * 2025 > 65504, which the
    # unchecked reference shows by overflowing.
    wide = (60 + 45 * torch.randn(2, 5, 40, generator=g)).half()
    assert not torch.isfinite(ref.cov_pool_forward(wide)[0]).all()
    with pytest.raises(ValueError, match='overflows torch.float16'):
        cov_pool(wide, impl='ref')


@pytest.mark.parametrize('path', ['ref', 'ext'])
def test_valid_edge_input_still_works(path):
    if path == 'ext' and not _ext_has_ops():
        pytest.skip('mmext._ext without cov ops')
    # One position: a zero covariance, not an error.
    y = isqrt_cov(torch.randn(2, 3, 1), 3, triu=False, impl=path)
    assert torch.equal(y, torch.zeros(2, 3, 3))
    # Large but representable values pass (the check has no false alarm).
    x = X * 1e17
    sigma = cov_pool(x, impl=path)
    expected = np.stack([np.cov(b, bias=True) for b in x.double().numpy()])
    np.testing.assert_allclose(
        sigma.double().numpy(), expected, rtol=1e-4,
        atol=1e-4 * np.abs(expected).max())


def test_check_finite_names_the_first_bad_tensor():
    from mmext.ops.tensor_check import check_finite
    big = torch.full((4, ), 3e38)  # finite, but the sums overflow float32
    check_finite('op', a=big, b=big)
    nan = torch.tensor([0., float('nan'), 1.])
    inf = torch.tensor([float('-inf'), 0.])
    with pytest.raises(ValueError) as excinfo:
        check_finite('op', a=big, b=nan, c=inf)
    assert str(excinfo.value) == ('op: `b` contains NaN or Inf (1 of 3 '
                                  'values, the first at index (1,))')
    with pytest.raises(ValueError, match='`c` contains NaN or Inf'):
        check_finite('op', a=big, c=inf)
    # empty and meta tensors have no values to check
    check_finite('op', a=torch.empty(0), b=torch.empty(3, device='meta'))
