"""Linear CKA (feature-space form) against the sample-space HSIC form; the
all-pairs ``cka_distance_matrix`` against a per-pair loop and closed
forms."""
import numpy as np
import pytest
import torch

from mmext.models.utils import (cka_distance_matrix, cosine_distance_matrix,
                                linear_cka)
from mmext.models.utils import category_distance


def hsic_cka(x: np.ndarray, y: np.ndarray) -> float:
    """tr(K H L H) / sqrt(tr(K H K H) tr(L H L H)) with Gram matrices."""
    n = x.shape[0]
    h = np.eye(n) - np.ones((n, n)) / n
    k, l_ = x @ x.T, y @ y.T

    def hsic(p, q):
        return np.trace(p @ h @ q @ h)

    return hsic(k, l_) / np.sqrt(hsic(k, k) * hsic(l_, l_))


def slow_cka_distance(feats: np.ndarray) -> np.ndarray:
    """The per-pair loop: ``1 - hsic_cka`` for every pair of classes."""
    num = feats.shape[0]
    dist = np.zeros((num, num))
    for i in range(num):
        for j in range(num):
            if i != j:
                dist[i, j] = 1 - hsic_cka(feats[i], feats[j])
    return dist


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


@pytest.mark.parametrize(
    'num_classes, n, d, block_numel',
    [
        (4, 20, 6, None),  # more samples than features: feature space
        (5, 6, 20, None),  # fewer samples than features: Gram matrices
        (7, 12, 3, 2 * 9),  # blocks of 1 class: 28 block products
        (11, 15, 4, 9 * 16),  # blocks of 3 classes, last one partial
    ])
def test_cka_distance_matrix_matches_per_pair_loop(monkeypatch, num_classes,
                                                   n, d, block_numel):
    if block_numel is not None:
        monkeypatch.setattr(category_distance, '_BLOCK_NUMEL', block_numel)
    rng = np.random.default_rng(num_classes)
    feats = rng.normal(size=(num_classes, n, d))
    # related classes, so that distances spread over (0, 1)
    feats[1:] += 0.7 * feats[:1] @ rng.normal(size=(d, d))
    dist = cka_distance_matrix(torch.from_numpy(feats)).numpy()
    ref = slow_cka_distance(feats)
    assert ref[~np.eye(num_classes, dtype=bool)].std() > 0.02
    np.testing.assert_allclose(dist, ref, rtol=0, atol=1e-12)
    assert (dist == dist.T).all() and (np.diagonal(dist) == 0).all()
    # float32 input, as the cost-matrix tool passes it
    dist32 = cka_distance_matrix(torch.from_numpy(feats).float())
    assert dist32.dtype == torch.float32
    np.testing.assert_allclose(dist32.numpy(), ref, rtol=0, atol=1e-5)


def test_cka_distance_matrix_closed_forms():
    # one feature: linear CKA is the squared Pearson correlation
    # x, y: r = 4 / 5; x, z: r = -1; y, z: r = -4 / 5
    feats = torch.tensor([[1., 2., 3., 4.], [1., 3., 2., 4.],
                          [4., 3., 2., 1.]]).unsqueeze(-1)
    ref = torch.tensor([[0., 0.36, 0.], [0.36, 0., 0.36], [0., 0.36, 0.]],
                       dtype=torch.float64)
    torch.testing.assert_close(
        cka_distance_matrix(feats.double()), ref, rtol=0, atol=1e-12)
    # a scaled, rotated, shifted copy of a class is at distance 0, in both
    # the feature-space (n > D) and the Gram (n < D) branch
    rng = np.random.default_rng(3)
    for n, d in ((9, 4), (4, 9)):
        a = rng.normal(size=(n, d))
        q, _ = np.linalg.qr(rng.normal(size=(d, d)))
        b = 2.5 * a @ q + rng.normal(size=(1, d))
        dist = cka_distance_matrix(torch.from_numpy(np.stack([a, b])))
        torch.testing.assert_close(
            dist, torch.zeros(2, 2, dtype=torch.float64), rtol=0, atol=1e-12)


def test_cka_distance_matrix_bad_shape():
    with pytest.raises(ValueError, match=r'class_feats must be \(K, n, D\)'):
        cka_distance_matrix(torch.zeros(4, 5))


def test_cosine_distance_matrix():
    w = torch.tensor([[1., 0.], [0., 2.], [-3., 0.], [1., 1.]])
    dist = cosine_distance_matrix(w)
    ref = torch.tensor([[0., 1., 2., 1 - 2**-0.5], [1., 0., 1., 1 - 2**-0.5],
                        [2., 1., 0., 1 + 2**-0.5],
                        [1 - 2**-0.5, 1 - 2**-0.5, 1 + 2**-0.5, 0.]])
    torch.testing.assert_close(dist, ref, atol=1e-6, rtol=0)
