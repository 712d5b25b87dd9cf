"""Gaussian W2 against independent closed forms (scipy's sqrtm, eigenvalues
of S1 S2, per-coordinate formula)."""
import numpy as np
import pytest
import scipy.linalg
import torch

from mmext.models.utils import gaussian_w2_diag, gaussian_w2_full


def random_spd(batch, dim, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(batch, dim, 2 * dim, generator=g, dtype=dtype)
    return a @ a.transpose(1, 2) / (2 * dim) + 0.1 * torch.eye(dim,
                                                               dtype=dtype)


def random_means(batch, dim, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, dim, generator=g, dtype=dtype)


def sqrtm_cov_term(s1, s2):
    """tr(S1 + S2 - 2 (S2^1/2 S1 S2^1/2)^1/2) with scipy's sqrtm."""
    r2 = scipy.linalg.sqrtm(s2)
    return float(np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(r2 @ s1 @ r2)).real)


def eig_cov_term(s1, s2):
    """The same via the eigenvalues of S1 S2 (similar to S2^1/2 S1 S2^1/2,
    hence real and positive): tr((.)^1/2) = sum sqrt(eig(S1 S2))."""
    eig = np.linalg.eigvals(s1 @ s2).real
    return float(np.trace(s1) + np.trace(s2) - 2 * np.sqrt(eig).sum())


@pytest.mark.parametrize('dim', [3, 8])
def test_full_matches_sqrtm_and_eigen_closed_forms(dim):
    s1, s2 = random_spd(4, dim, 0), random_spd(4, dim, 1)
    m1, m2 = random_means(4, dim, 2), random_means(4, dim, 3)
    mean_term, cov_term = gaussian_w2_full(m1, s1, m2, s2, num_iter=15)
    for k in range(4):
        a, b = s1[k].numpy(), s2[k].numpy()
        ref = sqrtm_cov_term(a, b)
        assert ref == pytest.approx(eig_cov_term(a, b), rel=1e-8)
        assert cov_term[k].item() == pytest.approx(ref, rel=1e-6, abs=1e-9)
        assert mean_term[k].item() == pytest.approx(float(
            ((m1[k] - m2[k]).numpy()**2).sum()),
                                                    rel=1e-12)


def test_full_float32_default_iterations():
    s1, s2 = random_spd(3, 6, 4), random_spd(3, 6, 5)
    m = random_means(3, 6, 6)
    _, cov_term = gaussian_w2_full(m.float(), s1.float(), m.float(),
                                   s2.float())
    ref = [sqrtm_cov_term(a.numpy(), b.numpy()) for a, b in zip(s1, s2)]
    np.testing.assert_allclose(cov_term.numpy(), ref, rtol=1e-4)


def test_full_is_zero_for_identical_gaussians():
    s, m = random_spd(2, 5, 7), random_means(2, 5, 8)
    mean_term, cov_term = gaussian_w2_full(m, s, m, s, num_iter=15)
    assert torch.all(mean_term == 0)
    np.testing.assert_allclose(cov_term.numpy(), 0, atol=1e-10)


def test_diag_matches_closed_form():
    g = torch.Generator().manual_seed(9)
    m1, m2 = torch.randn(2, 3, 5, generator=g), torch.randn(2,
                                                            3,
                                                            5,
                                                            generator=g)
    v1, v2 = torch.rand(2, 3, 5, generator=g) + 0.1, torch.rand(
        2, 3, 5, generator=g) + 0.1
    mean_term, cov_term = gaussian_w2_diag(m1, v1, m2, v2)
    assert mean_term.shape == cov_term.shape == (2, 3)
    m1, m2, v1, v2 = (t.double().numpy() for t in (m1, m2, v1, v2))
    for i in range(2):
        for j in range(3):
            ref_mean = sum((m1[i, j, c] - m2[i, j, c])**2 for c in range(5))
            # W2 of 1-d Gaussians is |m1 - m2|^2 + |sigma1 - sigma2|^2
            ref_cov = sum((np.sqrt(v1[i, j, c]) - np.sqrt(v2[i, j, c]))**2
                          for c in range(5))
            assert mean_term[i, j].item() == pytest.approx(ref_mean, rel=1e-5)
            assert cov_term[i, j].item() == pytest.approx(ref_cov, rel=1e-5)


def test_diag_equals_full_on_diagonal_covariances():
    g = torch.Generator().manual_seed(10)
    v1 = torch.rand(3, 6, generator=g, dtype=torch.float64) + 0.2
    v2 = torch.rand(3, 6, generator=g, dtype=torch.float64) + 0.2
    m1, m2 = random_means(3, 6, 11), random_means(3, 6, 12)
    d_mean, d_cov = gaussian_w2_diag(m1, v1, m2, v2)
    f_mean, f_cov = gaussian_w2_full(m1,
                                     torch.diag_embed(v1),
                                     m2,
                                     torch.diag_embed(v2),
                                     num_iter=20)
    torch.testing.assert_close(d_mean, f_mean)
    torch.testing.assert_close(d_cov, f_cov, rtol=1e-7, atol=1e-10)
    ref = [sqrtm_cov_term(np.diag(a), np.diag(b)) for a, b in zip(v1, v2)]
    np.testing.assert_allclose(d_cov.numpy(), ref, rtol=1e-10)


@pytest.mark.parametrize('sqrt_method', ['eigh', 'newton_schulz'])
def test_full_gradients(sqrt_method):
    g = torch.Generator().manual_seed(13)
    a1 = torch.randn(2, 4, 6, generator=g, dtype=torch.float64)
    a2 = torch.randn(2, 4, 6, generator=g, dtype=torch.float64)
    mu = torch.randn(2, 4, generator=g, dtype=torch.float64)
    eye = torch.eye(4, dtype=torch.float64)

    def w2(x1, x2, m):
        s1 = x1 @ x1.transpose(1, 2) / 6 + 0.1 * eye
        s2 = x2 @ x2.transpose(1, 2) / 6 + 0.1 * eye
        mean_term, cov_term = gaussian_w2_full(m,
                                               s1,
                                               torch.zeros_like(m),
                                               s2,
                                               sqrt_method=sqrt_method,
                                               num_iter=8)
        return mean_term + cov_term

    inputs = tuple(t.requires_grad_() for t in (a1, a2, mu))
    assert torch.autograd.gradcheck(w2, inputs)


def unbiased_cov(x, eps=1e-5):
    """``(B, C, k)`` features -> unbiased covariances + eps I, float64."""
    x = x.double()
    x = x - x.mean(-1, keepdim=True)
    eye = torch.eye(x.size(1), dtype=torch.float64)
    return x @ x.transpose(1, 2) / (x.size(-1) - 1) + eps * eye


@pytest.mark.parametrize('channels', [64, 256])
def test_full_rank_deficient_at_the_config_shapes(channels):
    # WKD-F full covariance on 8 x 8 maps: rank <= 63, + 1e-5 I (float32
    # features, as in training)
    g = torch.Generator().manual_seed(channels)
    xs = torch.randn(2, channels, 64, generator=g)
    xt = xs + 0.3 * torch.randn(2, channels, 64, generator=g)
    s1, s2 = unbiased_cov(xs), unbiased_cov(xt)
    mu = torch.zeros(2, channels)
    _, cov_term = gaussian_w2_full(mu, s1.float(), mu, s2.float())
    assert cov_term.dtype == torch.float32
    for k in range(2):
        # the float32 matrices the function saw, in float64
        a, b = s1[k].float().double().numpy(), s2[k].float().double().numpy()
        # scipy's sqrtm at 64 channels, the eigenvalues of S1 S2 at 256
        # (sqrtm takes ~10 s there)
        ref = (sqrtm_cov_term if channels <= 64 else eig_cov_term)(a, b)
        assert cov_term[k].item() == pytest.approx(ref, rel=1e-5)
    # the default Newton-Schulz iterations are off here (why it is not the
    # default): the test above would fail with it
    _, ns = gaussian_w2_full(
        mu, s1, mu, s2, sqrt_method='newton_schulz', num_iter=10)
    ref = [eig_cov_term(a.numpy(), b.numpy()) for a, b in zip(s1, s2)]
    assert np.abs(ns.numpy() / ref - 1).max() > 1e-3


@pytest.mark.parametrize('sqrt_method,num_iter', [('eigh', 10),
                                                  ('newton_schulz', 1),
                                                  ('newton_schulz', 10),
                                                  ('newton_schulz', 30),
                                                  ('newton_schulz', 100)])
@pytest.mark.parametrize('rank', [0, 1, 5, 24])
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_full_finite_for_any_rank_and_iterations(sqrt_method, num_iter, rank,
                                                 dtype):
    g = torch.Generator().manual_seed(rank)
    c = 24
    basis = torch.randn(2, c, max(rank, 1), generator=g)
    coeff = torch.randn(2, max(rank, 1), 40, generator=g)
    # data of the given rank (rank 0: constant features)
    xs = (basis @ coeff if rank else torch.ones(2, c, 40)) + 1.0
    xt = xs.flip(-1) * 0.5
    xs = xs.to(dtype).requires_grad_()
    s1, s2 = unbiased_cov(xs).to(dtype), unbiased_cov(xt).to(dtype)
    mu = torch.zeros(2, c, dtype=dtype)
    _, cov_term = gaussian_w2_full(
        mu, s1, mu, s2, sqrt_method=sqrt_method, num_iter=num_iter)
    assert torch.isfinite(cov_term).all()
    cov_term.sum().backward()
    assert torch.isfinite(xs.grad).all()


def test_full_newton_schulz_converges_with_iterations():
    # well-conditioned matrices: Newton-Schulz reaches the closed form
    s1, s2 = random_spd(3, 16, 20), random_spd(3, 16, 21)
    mu = random_means(3, 16, 22)
    ref = [sqrtm_cov_term(a.numpy(), b.numpy()) for a, b in zip(s1, s2)]
    for num_iter in (20, 100):
        _, cov_term = gaussian_w2_full(
            mu, s1, mu, s2, sqrt_method='newton_schulz', num_iter=num_iter)
        np.testing.assert_allclose(cov_term.numpy(), ref, rtol=1e-8)


def test_full_bad_sqrt_method():
    s, m = random_spd(1, 3, 23), random_means(1, 3, 24)
    with pytest.raises(ValueError, match='sqrt_method'):
        gaussian_w2_full(m, s, m, s, sqrt_method='svd')
