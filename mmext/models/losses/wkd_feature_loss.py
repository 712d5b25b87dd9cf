"""WKD-F: feature distillation with the Wasserstein-2 distance of Gaussians.

`Wasserstein Distance Rivals Kullback-Leibler Divergence for Knowledge
Distillation <https://arxiv.org/abs/2412.08139>`_ (Lv et al., NeurIPS 2024),
Sec. 3.2; authors' code: JiamingLv/WKD (``wkd_feature_loss`` in
``mdistiller/distillers/WKD.py``).
"""
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from mmext.ops.cov_sqrt import cov_pool
from mmext.registry import MODELS
from mmext.utils.validation import check_arg
from ..utils.gaussian_w2 import (SQRT_METHODS, gaussian_w2_diag,
                                 gaussian_w2_full)
from .wkd_loss import cosine_decayed_weight


def grid_cells(x: Tensor, grid: int) -> List[Tensor]:
    """Split feature maps into ``grid x grid`` cells with the bins of
    ``adaptive_avg_pool2d`` (cell ``i`` spans ``floor(i H / g)`` to
    ``ceil((i + 1) H / g)``; cells overlap when ``g`` does not divide
    ``H``), as the authors' ``adaptive_avg_std_pool2d``.

    Args:
        x (Tensor): ``(N, C, H, W)``.
        grid (int): Cells per side ``g``.

    Returns:
        list[Tensor]: ``g * g`` tensors ``(N, C, k_i)`` in row-major cell
        order, ``k_i`` the number of positions in cell ``i``.
    """
    height, width = x.shape[-2:]
    # a side longer than g gives every cell >= 2 rows (or columns)
    if grid < 1 or height < grid or width < grid or \
            (height == grid and width == grid):
        raise ValueError(f'a {height}x{width} map cannot be split into '
                         f'{grid}x{grid} cells of >= 2 positions each')
    cells = []
    for i in range(grid):
        top, bottom = i * height // grid, -(-(i + 1) * height // grid)
        for j in range(grid):
            left, right = j * width // grid, -(-(j + 1) * width // grid)
            cells.append(x[:, :, top:bottom, left:right].flatten(2))
    return cells


@MODELS.register_module()
class WKDFeatureLoss(nn.Module):
    """Wasserstein-2 distance between Gaussians fitted to student and teacher
    features, per sample and per spatial cell.

    Each feature map (the student's after a projector such as
    :class:`~mmext.models.distillers.ConvConnector`) is split into
    ``grid x grid`` cells (:func:`grid_cells`); the ``C``-dimensional
    features of a cell are modelled as ``N(mu, Sigma)`` with the sample mean
    and the unbiased covariance ``+ eps I``. The loss is ::

        loss_weight * (mean_cov_ratio * mean_{n, cell} ||mu_S - mu_T||^2
                       + mean_{n, cell} D_cov(Sigma_S, Sigma_T))

    with ``D_cov`` the covariance term of :math:`W_2^2`
    (:mod:`mmext.models.utils.gaussian_w2`):

    - ``covariance='diagonal'`` (the authors' code):
      ``||sqrt(diag Sigma_S) - sqrt(diag Sigma_T)||^2``;
    - ``covariance='full'`` (Eq. (6) of the paper):
      ``tr(S_S + S_T - 2 (S_T^1/2 S_S S_T^1/2)^1/2)``, with the suite's
      covariance pooling and, in float64, the exact spectral trace
      (``sqrt_method='eigh'``) or Newton-Schulz square roots
      (:func:`~mmext.models.utils.gaussian_w2.gaussian_w2_full`; ``C x C``
      matrices: memory and time grow with ``C^2`` and ``C^3``).

    Args:
        loss_weight (float): Weight of the loss (the authors'
            ``WKD_FEAT_WEIGHT``: 0.08 on CIFAR-100). Defaults to 1.
        mean_cov_ratio (float): Weight of the mean term relative to the
            covariance term (the authors' ``MEAN_COV_RATIO``). Defaults to 2.
        grid (int): Cells per side (the authors' ``SPATIAL_GRID``: 1 on
            CIFAR-100, 4 on ImageNet). Defaults to 1.
        covariance (str): ``'diagonal'`` or ``'full'``. Defaults to
            ``'diagonal'``.
        eps (float): Added to the variances (the covariance diagonal).
            Defaults to 1e-5.
        sqrt_method (str): ``'eigh'`` (exact) or ``'newton_schulz'``
            (``'full'`` only). Defaults to ``'eigh'``.
        num_iter (int): Newton-Schulz iterations of each matrix square root
            (``'full'`` with ``'newton_schulz'`` only). Defaults to 10.
        weight_decay_begin_epoch (int, optional): From this (1-based) epoch
            on, ``loss_weight`` decays with a cosine to 0 at the last epoch,
            as in the authors' code (150 on CIFAR-100). ``None`` keeps it
            constant.

    Shapes:
        - feats_S: ``(N, C, H, W)`` projected student features
        - feats_T: ``(N, C, H, W)`` teacher features (no gradient)
        - output: scalar
    """

    _COVARIANCES = ('diagonal', 'full')

    def __init__(self,
                 loss_weight: float = 1.0,
                 mean_cov_ratio: float = 2.0,
                 grid: int = 1,
                 covariance: str = 'diagonal',
                 eps: float = 1e-5,
                 sqrt_method: str = 'eigh',
                 num_iter: int = 10,
                 weight_decay_begin_epoch: Optional[int] = None) -> None:
        super().__init__()
        check_arg(self, 'loss_weight', loss_weight, float)
        check_arg(self, 'mean_cov_ratio', mean_cov_ratio, float, low=0)
        check_arg(self, 'grid', grid, int, low=1)
        check_arg(self, 'covariance', covariance, choices=self._COVARIANCES)
        check_arg(self, 'eps', eps, float, low=0, low_open=True)
        check_arg(self, 'sqrt_method', sqrt_method, choices=SQRT_METHODS)
        check_arg(self, 'num_iter', num_iter, int, low=1)
        self.loss_weight = loss_weight
        self.mean_cov_ratio = mean_cov_ratio
        self.grid = grid
        self.covariance = covariance
        self.eps = eps
        self.sqrt_method = sqrt_method
        self.num_iter = num_iter
        self.weight_decay_begin_epoch = weight_decay_begin_epoch

    def gaussian_stats(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """Means ``(N, G, C)`` and variances ``(N, G, C)`` (diagonal) or
        covariances ``(N, G, C, C)`` (full) of the ``G = grid^2`` cells."""
        mus, covs = [], []
        for cell in grid_cells(x, self.grid):
            mus.append(cell.mean(-1))
            if self.covariance == 'diagonal':
                covs.append(cell.var(-1) + self.eps)
            else:
                num = cell.size(-1)
                # cov_pool normalizes by k; the unbiased estimate by k - 1,
                # so that its diagonal is the authors' variance
                eye = torch.eye(x.size(1), dtype=x.dtype, device=x.device)
                covs.append(
                    cov_pool(cell) * (num / (num - 1)) + self.eps * eye)
        return torch.stack(mus, 1), torch.stack(covs, 1)

    def forward(self, feats_S: Tensor, feats_T: Tensor) -> Tensor:
        if feats_S.shape != feats_T.shape:
            raise ValueError(
                f'student features {tuple(feats_S.shape)} and teacher '
                f'features {tuple(feats_T.shape)} differ: project the '
                "student's with a connector")
        mu_s, cov_s = self.gaussian_stats(feats_S.float())
        mu_t, cov_t = self.gaussian_stats(feats_T.detach().float())
        if self.covariance == 'diagonal':
            mean_term, cov_term = gaussian_w2_diag(mu_s, cov_s, mu_t, cov_t)
        else:
            c = mu_s.size(-1)
            mean_term, cov_term = gaussian_w2_full(mu_s.reshape(-1, c),
                                                   cov_s.reshape(-1, c, c),
                                                   mu_t.reshape(-1, c),
                                                   cov_t.reshape(-1, c, c),
                                                   self.sqrt_method,
                                                   self.num_iter)
        weight = cosine_decayed_weight(self.loss_weight,
                                       self.weight_decay_begin_epoch)
        return weight * (self.mean_cov_ratio * mean_term.mean() +
                         cov_term.mean())
