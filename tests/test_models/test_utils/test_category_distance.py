"""Linear CKA (feature-space form) against the sample-space HSIC form."""
import numpy as np
import torch

from mmext.models.utils import (cka_distance_matrix, cosine_distance_matrix,
                                linear_cka)


def hsic_cka(x: np.ndarray, y: np.ndarray) -> float:
    """tr(K H L H) / sqrt(tr(K H K H) tr(L H L H)) with Gram matrices."""
    n = x.shape[0]
    h = np.eye(n) - np.ones((n, n)) / n
    k, l_ = x @ x.T, y @ y.T

    def hsic(p, q):
        return np.trace(p @ h @ q @ h)

    return hsic(k, l_) / np.sqrt(hsic(k, k) * hsic(l_, l_))


def test_linear_cka_matches_gram_form():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 7))
    y = rng.normal(size=(30, 5)) + x[:, :5]
    got = linear_cka(torch.from_numpy(x), torch.from_numpy(y)).item()
    np.testing.assert_allclose(got, hsic_cka(x, y), rtol=1e-10)
    # invariant to isotropic scaling and orthogonal transforms
    q, _ = np.linalg.qr(rng.normal(size=(7, 7)))
    got2 = linear_cka(torch.from_numpy(3 * x @ q), torch.from_numpy(y))
    np.testing.assert_allclose(got2.item(), got, rtol=1e-10)


def test_cka_distance_matrix():
    rng = np.random.default_rng(1)
    feats = rng.normal(size=(4, 20, 6))
    dist = cka_distance_matrix(torch.from_numpy(feats)).numpy()
    for i in range(4):
        for j in range(4):
            ref = 0.0 if i == j else 1 - hsic_cka(feats[i], feats[j])
            np.testing.assert_allclose(dist[i, j], ref, atol=1e-12)


def test_cosine_distance_matrix():
    w = torch.tensor([[1., 0.], [0., 2.], [-3., 0.], [1., 1.]])
    dist = cosine_distance_matrix(w)
    ref = torch.tensor([[0., 1., 2., 1 - 2**-0.5], [1., 0., 1., 1 - 2**-0.5],
                        [2., 1., 0., 1 + 2**-0.5],
                        [1 - 2**-0.5, 1 - 2**-0.5, 1 + 2**-0.5, 0.]])
    torch.testing.assert_close(dist, ref, atol=1e-6, rtol=0)
