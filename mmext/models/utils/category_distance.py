"""Distances between categories from a trained model (WKD-L's ground cost).

WKD (Lv et al., NeurIPS 2024), Sec. 3.1 "category interrelations": either
``1 - linear CKA`` between the teacher's per-class feature (or logit)
matrices, or ``1 - cos`` between the rows of its classifier weight.
"""
import math

import torch
import torch.nn.functional as F

#: Largest intermediate block of :func:`_hsic_matrix` (elements; 256 MiB in
#: float32), so that memory stays bounded for many classes and features.
_BLOCK_NUMEL = 2**26


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Linear CKA of two paired sample matrices (Kornblith et al., 2019).

    ``||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)`` with column-centred
    ``Xc``, ``Yc``, computed in feature space (``D x D``), cheap when there
    are many more samples than features.

    Args:
        x (Tensor): ``(n, D)``.
        y (Tensor): ``(n, D')``; row ``i`` is paired with row ``i`` of ``x``.

    Returns:
        Tensor: Scalar in ``[0, 1]``.
    """
    if x.shape[0] != y.shape[0]:
        raise ValueError(f'linear_cka needs paired rows, got {x.shape[0]} '
                         f'and {y.shape[0]}')
    x = x - x.mean(0, keepdim=True)
    y = y - y.mean(0, keepdim=True)
    hsic = (y.t() @ x).pow(2).sum()
    return hsic / ((x.t() @ x).norm() * (y.t() @ y).norm()).clamp_min(1e-12)


def _hsic_matrix(x: torch.Tensor) -> torch.Tensor:
    """``||X_j^T X_i||_F^2`` (HSIC up to a constant) for all class pairs.

    Computed in whichever space is smaller: with fewer samples than
    features, as ``<X_i X_i^T, X_j X_j^T>_F`` (one product of the
    flattened ``(n, n)`` Gram matrices, ``K n^2`` elements of memory);
    otherwise from the cross-covariances ``X_i^T X_j`` of all classes at
    once, the ``(K D, K D)`` product ``Z^T Z`` of ``Z = [X_1 ... X_K]``
    taken in blocks of about :data:`_BLOCK_NUMEL` elements (upper
    triangle only, mirrored).

    Args:
        x (Tensor): ``(K, n, D)`` column-centred samples of each class.

    Returns:
        Tensor: ``(K, K)``, symmetric up to rounding.
    """
    num_classes, n, d = x.shape
    if n < d:
        gram = (x @ x.transpose(1, 2)).flatten(1)  # (K, n * n)
        return gram @ gram.t()
    z = x.transpose(0, 1).reshape(n, num_classes * d)  # (n, K * D)
    hsic = x.new_empty(num_classes, num_classes)
    step = max(1, math.isqrt(_BLOCK_NUMEL // (d * d)))  # classes per side
    for i in range(0, num_classes, step):
        zi = z[:, i * d:(i + step) * d]
        for j in range(i, num_classes, step):
            zj = z[:, j * d:(j + step) * d]
            ri, rj = zi.shape[1] // d, zj.shape[1] // d
            # (ri, D, rj, D): the cross-covariance of every pair in the block
            block = (zi.t() @ zj).view(ri, d, rj, d).pow(2).sum((1, 3))
            hsic[i:i + ri, j:j + rj] = block
            hsic[j:j + rj, i:i + ri] = block.t()
    return hsic


def cka_distance_matrix(class_feats: torch.Tensor) -> torch.Tensor:
    """``1 - linear CKA`` between every pair of classes.

    As in the WKD authors' tool, the ``i``-th sample of one class is paired
    with the ``i``-th sample of another (the classes hold equally many
    samples; truncate to the smallest class first). All pairs are computed
    at once by matrix products (:func:`_hsic_matrix`); entry ``(i, j)``
    equals ``1 - linear_cka(class_feats[i], class_feats[j])``.

    Args:
        class_feats (Tensor): ``(K, n, D)``: ``n`` samples of each of ``K``
            classes.

    Returns:
        Tensor: ``(K, K)`` symmetric, zero diagonal.
    """
    if class_feats.dim() != 3:
        raise ValueError('cka_distance_matrix: class_feats must be (K, n, D) '
                         f'(classes, samples, features), got shape '
                         f'{tuple(class_feats.shape)}')
    x = class_feats - class_feats.mean(1, keepdim=True)
    hsic = _hsic_matrix(x)
    hsic = (hsic + hsic.t()) / 2
    # ||X_i^T X_i||_F = sqrt(hsic_ii): the normalizers of linear_cka
    norms = hsic.diagonal().clamp_min(0).sqrt()
    dist = 1 - hsic / (norms[:, None] * norms[None, :]).clamp_min(1e-12)
    return dist.fill_diagonal_(0)


def cosine_distance_matrix(weight: torch.Tensor) -> torch.Tensor:
    """``1 - cos`` between the rows of a ``(K, D)`` classifier weight."""
    w = F.normalize(weight, dim=1)
    return 1 - w @ w.t()
