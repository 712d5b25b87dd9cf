"""Distances between categories from a trained model (WKD-L's ground cost).

WKD (Lv et al., NeurIPS 2024), Sec. 3.1 "category interrelations": either
``1 - linear CKA`` between the teacher's per-class feature (or logit)
matrices, or ``1 - cos`` between the rows of its classifier weight.
"""
import torch
import torch.nn.functional as F


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


def cka_distance_matrix(class_feats: torch.Tensor) -> torch.Tensor:
    """``1 - linear CKA`` between every pair of classes.

    As in the WKD authors' tool, the ``i``-th sample of one class is paired
    with the ``i``-th sample of another (the classes hold equally many
    samples; truncate to the smallest class first).

    Args:
        class_feats (Tensor): ``(K, n, D)``: ``n`` samples of each of ``K``
            classes.

    Returns:
        Tensor: ``(K, K)`` symmetric, zero diagonal.
    """
    num_classes = class_feats.shape[0]
    dist = class_feats.new_zeros(num_classes, num_classes)
    for i in range(num_classes):
        for j in range(i + 1, num_classes):
            dist[i, j] = dist[j, i] = 1 - linear_cka(class_feats[i],
                                                     class_feats[j])
    return dist


def cosine_distance_matrix(weight: torch.Tensor) -> torch.Tensor:
    """``1 - cos`` between the rows of a ``(K, D)`` classifier weight."""
    w = F.normalize(weight, dim=1)
    return 1 - w @ w.t()
