"""BDC pooling against the definition of Brownian distance covariance
(slow loops, float64; the ``dcor`` package is not installed), gradients by
gradcheck, parameter counts and bad-input messages."""
import itertools
import math

import pytest
import torch

from mmext.models.necks.deepbdc import BDCPooling, bdc_matrix


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


def test_bdc_vector_matches_definition():
    torch.manual_seed(0)
    x = torch.randn(2, 6, 3, 4, dtype=torch.float64)
    neck = BDCPooling(in_channels=6, num_positions=12).double()
    t = neck.temperature.item()
    assert math.isclose(t, math.log(1 / 24), rel_tol=1e-7)  # float32 init
    out = neck(x)[0]
    assert out.shape == (2, 21)
    for b in range(2):
        ref = _loop_bdc(x[b].reshape(6, -1), t, 1e-5)
        vec = [ref[k][l] for k in range(6) for l in range(k, 6)]
        torch.testing.assert_close(out[b], torch.tensor(vec,
                                                        dtype=torch.float64))


def test_inner_product_is_distance_covariance():
    # the channels are the n observations of two "random vectors"
    torch.manual_seed(1)
    x = torch.randn(2, 5, 7, dtype=torch.float64)
    a = bdc_matrix(x, torch.zeros(1, 1, dtype=torch.float64), eps=0.)
    dcov2 = float((a[0] * a[1]).sum()) / 5**2
    assert math.isclose(dcov2, _loop_dcov2(x[0], x[1]), rel_tol=1e-10)
    # rows and columns of a double-centred matrix sum to 0
    torch.testing.assert_close(a.sum(1), torch.zeros(2, 5,
                                                     dtype=torch.float64))


def test_gradcheck_float64():
    torch.manual_seed(2)
    neck = BDCPooling(in_channels=4, reduced_channels=3,
                      num_positions=6).double()
    neck.eval()
    x = torch.randn(2, 4, 2, 3, dtype=torch.float64, requires_grad=True)
    t = neck.temperature
    assert torch.autograd.gradcheck(lambda x: neck(x)[0], (x, ))
    # the temperature's gradient
    y = torch.randn(2, 3, 6, dtype=torch.float64)
    from mmext.ops import triu_vec
    assert torch.autograd.gradcheck(
        lambda t: triu_vec(bdc_matrix(y, t)), (t.detach().clone()
                                               .requires_grad_(), ))


def test_parameters():
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(BDCPooling(640)) == 1  # no reduction when 640 -> 640
    assert n(BDCPooling(640, 128)) == 82177
    assert n(BDCPooling(640, 256)) == 164353
    assert n(BDCPooling(512, 256, num_positions=196)) == 131585
    assert BDCPooling(640).out_channels == 205120
    assert math.isclose(
        BDCPooling(512, 256, num_positions=196).temperature.item(),
        -5.971262, abs_tol=1e-6)


def test_bad_inputs():
    neck = BDCPooling(in_channels=4)
    with pytest.raises(ValueError, match=r'1 x 1 = 1 position.*crop_size'):
        neck(torch.randn(2, 4, 1, 1))
    x = torch.randn(2, 4, 3, 3)
    x[0, 1, 2, 2] = float('nan')
    with pytest.raises(ValueError, match='1 NaN/Inf values .*model.backbone'):
        neck(x)
    with pytest.raises(ValueError, match=r'temperature_init=inf .* finite'):
        BDCPooling(in_channels=4, temperature_init=float('inf'))
    neck.temperature.data.fill_(float('nan'))
    with pytest.raises(ValueError, match=r'temperature=nan is not finite '
                       r'\(model.neck.temperature'):
        neck(torch.randn(2, 4, 3, 3))
    with pytest.raises(ValueError, match=r"in_channels='640'"):
        BDCPooling(in_channels='640')
