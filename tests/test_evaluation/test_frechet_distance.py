"""frechet_distance against SciPy's matrix square root and the closed form
for diagonal Gaussians."""
import itertools

import numpy as np
import pytest
import torch
from scipy import linalg

from mmext.evaluation import feature_gaussian, frechet_distance


def test_matches_scipy_sqrtm():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(40, 5, generator=gen, dtype=torch.float64)
    b = torch.randn(30, 5, generator=gen, dtype=torch.float64) @ torch.rand(
        5, 5, generator=gen, dtype=torch.float64) + 0.7
    x, y = a.numpy(), b.numpy()
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    expected = ((mu1 - mu2)**2).sum() + np.trace(
        s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    assert frechet_distance(a, b, eps=0) == pytest.approx(expected, rel=1e-8)
    assert frechet_distance(a.float(), b.float()) == pytest.approx(
        expected, rel=1e-4)


def test_diagonal_closed_form():
    # the 8 corners m + s * e, e in {-1, 1}^3: mean m and a diagonal
    # unbiased covariance 8/7 s^2, so W2^2 = |m1 - m2|^2 + 8/7 |s1 - s2|^2
    corners = torch.tensor(list(itertools.product([-1., 1.], repeat=3)))
    m1, s1 = torch.tensor([0., 1., -2.]), torch.tensor([1., .5, 2.])
    m2, s2 = torch.tensor([1., 1., 0.]), torch.tensor([2., .5, 1.])
    a, b = m1 + s1 * corners, m2 + s2 * corners
    expected = ((m1 - m2)**2).sum() + 8 / 7 * ((s1 - s2)**2).sum()
    assert frechet_distance(a, b, eps=0) == pytest.approx(
        float(expected), rel=1e-6)
    mean, cov = feature_gaussian(a)
    np.testing.assert_allclose(cov.numpy(), np.diag(8 / 7 * s1.numpy()**2),
                               atol=1e-6)
    np.testing.assert_allclose(mean.numpy(), m1.numpy(), atol=1e-7)


def test_identical_sets_are_at_zero():
    a = torch.randn(50, 4, generator=torch.Generator().manual_seed(1))
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-8)


def test_bad_shapes():
    with pytest.raises(ValueError, match=r'\(N1, D\) and \(N2, D\)'):
        frechet_distance(torch.zeros(4, 3), torch.zeros(4, 2))
    with pytest.raises(ValueError, match='N >= 2'):
        frechet_distance(torch.zeros(1, 3), torch.zeros(4, 3))
