"""BDC pooling (:func:`mmext.ops.bdc_pool`) against independent references.

References: Python loops over the definition (double-centred distances of
the channels, DeepBDC Eq. 4), the sample distance covariance of Szekely et
al. (2007) in its three-expectation form (the ``dcor`` package is not
installed), finite differences (gradcheck, float64) and the formula written
with autograd's operators.
"""
import itertools
import math

import pytest
import torch

from mmext.ops import bdc_pool
from mmext.ops.cov_sqrt import _ext_has_ops

IMPLS = [
    'ref',
    pytest.param(
        'ext',
        marks=pytest.mark.skipif(
            not _ext_has_ops(), reason='mmext._ext without cov ops')),
]


def _loop_bdc(x, t, eps):
    """Double-centred distance matrix of the channels of ``x`` (d, M)."""
    d = x.shape[0]
    a = [[math.sqrt(math.exp(t) * float(((x[k] - x[l])**2).sum()) + eps)
          for l in range(d)] for k in range(d)]
    row = [sum(r) / d for r in a]
    col = [sum(a[k][l] for k in range(d)) / d for l in range(d)]
    tot = sum(row) / d
    return [[a[k][l] - row[k] - col[l] + tot for l in range(d)]
            for k in range(d)]


def _loop_dcov2(x, y):
    """Sample distance covariance V^2_n(X, Y) (Szekely et al. 2007) from
    its three-expectation form S1 + S2 - 2 S3; samples are the rows."""
    n = x.shape[0]

    def dx(k, l):
        return float((x[k] - x[l]).norm())

    def dy(k, l):
        return float((y[k] - y[l]).norm())

    pairs = list(itertools.product(range(n), repeat=2))
    s1 = sum(dx(k, l) * dy(k, l) for k, l in pairs) / n**2
    s2 = (sum(dx(k, l) for k, l in pairs) / n**2) * (
        sum(dy(k, l) for k, l in pairs) / n**2)
    s3 = sum(dx(k, l) * dy(k, m)
             for k, l, m in itertools.product(range(n), repeat=3)) / n**3
    return s1 + s2 - 2 * s3


def _autograd_bdc(x, t, eps):
    """The formula with autograd's operators, float64 (no shared code)."""
    x = x.flatten(2)
    diff = x[:, :, None, :] - x[:, None, :, :]
    a = torch.sqrt(t.reshape(()).exp() * diff.square().sum(-1) + eps)
    c = (a - a.mean(1, keepdim=True) - a.mean(2, keepdim=True) +
         a.mean((1, 2), keepdim=True))
    d = c.size(1)
    return torch.stack(
        [c[:, k, l] for k in range(d) for l in range(k, d)], dim=1)


@pytest.mark.parametrize('impl', IMPLS)
def test_matches_definition(impl):
    torch.manual_seed(0)
    x = torch.randn(2, 6, 3, 4, dtype=torch.float64)
    t = torch.full((1, 1), -1.7, dtype=torch.float64)
    out = bdc_pool(x, t, impl=impl)
    mat = bdc_pool(x, t, triu=False, impl=impl)
    assert out.shape == (2, 21) and mat.shape == (2, 6, 6)
    for b in range(2):
        ref = _loop_bdc(x[b].reshape(6, -1), -1.7, 1e-5)
        vec = [ref[k][l] for k in range(6) for l in range(k, 6)]
        torch.testing.assert_close(out[b], torch.tensor(vec,
                                                        dtype=torch.float64))
        torch.testing.assert_close(mat[b], torch.tensor(ref,
                                                        dtype=torch.float64))


def test_inner_product_is_distance_covariance():
    # the channels are the n observations of two "random vectors"
    torch.manual_seed(1)
    x = torch.randn(2, 5, 7, dtype=torch.float64)
    a = bdc_pool(x, torch.zeros(1, 1, dtype=torch.float64), eps=0.,
                 triu=False)
    dcov2 = float((a[0] * a[1]).sum()) / 5**2
    assert math.isclose(dcov2, _loop_dcov2(x[0], x[1]), rel_tol=1e-10)
    # rows and columns of a double-centred matrix sum to 0
    torch.testing.assert_close(a.sum(1), torch.zeros(2, 5,
                                                     dtype=torch.float64))


@pytest.mark.parametrize('impl', IMPLS)
@pytest.mark.parametrize('triu', [True, False])
@pytest.mark.parametrize('t_shape', [(1, 1), (1, ), ()])
def test_gradcheck_x_and_temperature(impl, triu, t_shape):
    torch.manual_seed(2)
    x = torch.randn(3, 5, 2, 3, dtype=torch.float64, requires_grad=True)
    t = torch.full(t_shape, -0.8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, t: bdc_pool(x, t, triu=triu, impl=impl), (x, t))
    # the temperature alone (x constant)
    assert torch.autograd.gradcheck(
        lambda t: bdc_pool(x.detach(), t, triu=triu, impl=impl), (t, ))


def test_gradients_match_autograd_formula():
    """Larger than gradcheck can afford; duplicate channels (distance 0,
    where the clamp and eps act) and a random output gradient."""
    torch.manual_seed(3)
    x = torch.randn(4, 24, 30, dtype=torch.float64).relu()
    x[:, 5] = x[:, 2]
    t = torch.full((1, 1), math.log(1 / 60), dtype=torch.float64)
    grad = torch.randn(4, 24 * 25 // 2, dtype=torch.float64)
    results = []
    for fn in (bdc_pool, _autograd_bdc):
        xg, tg = x.clone().requires_grad_(), t.clone().requires_grad_()
        out = fn(xg, tg, 1e-5)
        results.append((out, ) + torch.autograd.grad(out, (xg, tg), grad))
    for ours, ref in zip(*results):
        torch.testing.assert_close(ours, ref, rtol=1e-9, atol=1e-12)


def test_float32_close_to_float64():
    torch.manual_seed(4)
    x = torch.randn(3, 64, 10, 10).relu()
    t = torch.full((1, 1), math.log(1 / 200))
    out = bdc_pool(x, t)
    ref = bdc_pool(x.double(), t.double())
    assert ((out.double() - ref).norm() / ref.norm()) < 1e-5


def test_backward_twice_with_retained_graph():
    x = torch.randn(2, 4, 6, dtype=torch.float64, requires_grad=True)
    t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    out = bdc_pool(x, t).sum()
    first = torch.autograd.grad(out, (x, t), retain_graph=True)
    second = torch.autograd.grad(out, (x, t))
    for a, b in zip(first, second):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize('case, message', [
    (dict(x=torch.randn(2, 4, 1, 1)),
     r'bdc_pool: `x` has 1 spatial position\(s\) .*needs >= 2'),
    (dict(x=torch.randn(2, 4, 1)), r'`x` has 1 spatial position'),
    (dict(x=torch.randn(4, 9)), r'bdc_pool: `x` must be 3-D'),
    (dict(x=torch.randint(0, 3, (2, 4, 9))), r'`x` must be floating point'),
    (dict(x=torch.tensor([[[0., 1., float('nan')]]])),
     r'bdc_pool: `x` contains NaN or Inf \(1 of 3 values'),
    (dict(t=torch.full((1, 1), float('inf'))),
     r'bdc_pool: `temperature` is inf; it must be finite'),
    (dict(t=torch.full((1, 1), float('nan'))), r'`temperature` is nan'),
    (dict(t=torch.zeros(2)), r'`temperature` must be .*shape \(2,\)'),
    (dict(t=torch.zeros(1, 1, dtype=torch.float64)),
     r'`temperature` dtype torch.float64 differs from `x`'),
    (dict(eps=-1e-5), r'bdc_pool: `eps` must be >= 0, but got -1e-05'),
])
def test_bad_inputs(case, message):
    args = dict(x=torch.randn(2, 4, 3, 3), t=torch.zeros(1, 1), eps=1e-5)
    args.update(case)
    with pytest.raises(ValueError, match=message):
        bdc_pool(args['x'], args['t'], args['eps'])


def test_flop_count_is_the_gram_matrix():
    """mmengine's counter (``get_model_complexity_info``) counts the op's
    ``B d^2 M`` multiply-adds of ``X X^T``."""
    from mmengine.analysis import FlopAnalyzer

    class Pool(torch.nn.Module):

        def forward(self, x):
            return bdc_pool(x, torch.zeros(1, 1))

    analyzer = FlopAnalyzer(Pool(), (torch.randn(2, 8, 3, 4), ))
    analyzer.unsupported_ops_warnings(False)
    assert analyzer.total() == 2 * 8 * 8 * 12
    assert not [op for op in analyzer.unsupported_ops() if 'PythonOp' in op]
