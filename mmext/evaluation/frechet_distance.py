"""Fréchet distance between two sets of features.

The distance of FID (`GANs Trained by a Two Time-Scale Update Rule Converge
to a Local Nash Equilibrium <https://arxiv.org/abs/1706.08500>`_, Eq. 6):
fit a Gaussian to each set and take the squared Wasserstein-2 distance of
the two Gaussians, ``||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^1/2)``. The
closed form is the suite's :func:`mmext.models.utils.gaussian_w2_full`;
this module adds the Gaussian fit. Which network gives the features is the
caller's choice (FID uses Inception-v3 pool features).
"""
from typing import Tuple

import torch
from torch import Tensor

from mmext.models.utils.gaussian_w2 import gaussian_w2_full
from mmext.utils.validation import check_arg

__all__ = ['feature_gaussian', 'frechet_distance']


def feature_gaussian(feats: Tensor) -> Tuple[Tensor, Tensor]:
    """Mean and unbiased covariance of a set of features, in float64.

    Args:
        feats (Tensor): ``(N, D)`` features, ``N >= 2``.

    Returns:
        tuple[Tensor, Tensor]: The ``(D, )`` mean and the ``(D, D)``
        covariance (normalised by ``N - 1``, as FID's ``np.cov``).
    """
    if feats.dim() != 2 or feats.shape[0] < 2:
        raise ValueError('feature_gaussian: expected (N, D) features with '
                         f'N >= 2, got shape {tuple(feats.shape)}')
    feats = feats.double()
    mean = feats.mean(0)
    centred = feats - mean
    return mean, centred.T @ centred / (feats.shape[0] - 1)


def frechet_distance(feats1: Tensor, feats2: Tensor,
                     eps: float = 1e-6) -> float:
    """Fréchet distance of the Gaussians fitted to two feature sets.

    ``eps * I`` is added to both covariances so that sets with fewer
    samples than dimensions (rank-deficient covariances) still have a
    finite, well-defined distance; ``eps=0`` gives the plain closed form
    for full-rank covariances.

    Args:
        feats1 (Tensor): ``(N1, D)`` features of the first set.
        feats2 (Tensor): ``(N2, D)`` features of the second set.
        eps (float): Ridge added to the covariances. Defaults to 1e-6.

    Returns:
        float: The squared W2 distance of the two Gaussians.
    """
    check_arg('frechet_distance', 'eps', eps, float, low=0)
    if feats1.dim() != 2 or feats2.dim() != 2 \
            or feats1.shape[1] != feats2.shape[1]:
        raise ValueError('frechet_distance: expected (N1, D) and (N2, D) '
                         f'features, got shapes {tuple(feats1.shape)} and '
                         f'{tuple(feats2.shape)}')
    mu1, cov1 = feature_gaussian(feats1)
    mu2, cov2 = feature_gaussian(feats2)
    ridge = eps * torch.eye(cov1.shape[0], dtype=cov1.dtype)
    mean_term, cov_term = gaussian_w2_full(mu1[None], (cov1 + ridge)[None],
                                           mu2[None], (cov2 + ridge)[None])
    return float(mean_term + cov_term)
