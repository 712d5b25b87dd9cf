"""WKD-L: logit distillation with the discrete Wasserstein distance.

`Wasserstein Distance Rivals Kullback-Leibler Divergence for Knowledge
Distillation <https://arxiv.org/abs/2412.08139>`_ (Lv et al., NeurIPS 2024),
Sec. 3.1; authors' code: JiamingLv/WKD (``mdistiller/distillers/WKD.py``).
"""
import math
import os.path as osp
import warnings
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import MessageHub

from mmext.registry import MODELS
from mmext.utils.validation import check_arg
from ..utils.sinkhorn import sinkhorn


def load_cost_matrix(path: str) -> torch.Tensor:
    """Read a ``(C, C)`` category distance matrix saved with ``torch.save``
    (by ``tools/misc/wkd_cost_matrix.py`` or the authors' tool)."""
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'WKD cost matrix {path!r} does not exist; generate it from the '
            'teacher with tools/misc/wkd_cost_matrix.py')
    cost = torch.load(path, map_location='cpu', weights_only=True)
    if isinstance(cost, dict):  # {'cost_matrix': ..., 'meta': ...}
        cost = cost['cost_matrix']
    if not isinstance(cost, torch.Tensor) or cost.dim() != 2 or \
            cost.shape[0] != cost.shape[1]:
        raise ValueError(f'{path}: expected a square (C, C) tensor')
    return cost.float()


def cosine_decayed_weight(weight: float, begin_epoch: Optional[int]) -> float:
    """WKD's loss-weight schedule at the current epoch of the runner.

    From the (1-based) epoch ``begin_epoch`` on, ``weight`` follows
    ``0.5 * weight * (1 + cos(pi * (e - b) / (E - b)))`` to 0 at the last
    epoch ``E``, as in the authors' code; ``begin_epoch=None`` or no
    running epoch loop keeps ``weight``.
    """
    if begin_epoch is None:
        return weight
    hub = MessageHub.get_current_instance()
    epoch = hub.get_info('epoch')
    max_epochs = hub.get_info('max_epochs')
    if epoch is None or max_epochs is None:
        return weight
    epoch += 1  # mmengine counts epochs from 0, the authors from 1
    if epoch <= begin_epoch or max_epochs <= begin_epoch:
        return weight
    progress = (epoch - begin_epoch) / (max_epochs - begin_epoch)
    return 0.5 * weight * (1 + math.cos(math.pi * progress))


@MODELS.register_module()
class WKDLogitLoss(nn.Module):
    """Target-class term + ``gamma`` * WD between non-target distributions.

    With student / teacher logits ``z_S``, ``z_T`` and label ``y``:

    - target term (temperature 1, as in the authors' code):
      ``-mean_n softmax(z_T)_y * log_softmax(z_S)_y``;
    - ``WD(softmax(z_S[~y] / T), softmax(z_T[~y] / T))`` with the ground
      cost ``C[~y, ~y]`` between the remaining categories, by entropic OT
      (:func:`mmext.models.utils.sinkhorn`, Eq. (3)-(4) of the paper).

    The cost ``C`` is a category distance ``d`` (``1 - linear CKA`` of the
    teacher's per-class features, or ``1 - cos`` of its classifier weights,
    from ``tools/misc/wkd_cost_matrix.py``), sharpened as
    ``1 - exp(-kappa * d)`` when ``kappa != 0``.

    Args:
        temperature (float): ``T`` of the non-target distributions.
        gamma (float): Weight of the WD term (the authors' ``WKD_LOGIT_
            WEIGHT``: 600 for resnet32x4 -> resnet8x4 with ``T=8``, the
            value of their final config, commit 3829f2f).
        cost_matrix_file (str, optional): File with ``d``. ``None`` warns
            and uses the discrete metric ``d = 1 - I`` (every pair of
            categories equally far).
        kappa (float): Sharpening of ``d``; 0 keeps ``d``. Defaults to 1.
        sinkhorn_lambda (float): Entropic regularisation. Defaults to 0.05.
        sinkhorn_iters (int): Sinkhorn iterations. Defaults to 10.
        gamma_decay_begin_epoch (int, optional): From this (1-based) epoch on,
            ``gamma`` follows ``0.5 * gamma * (1 + cos(pi * (e - b) /
            (E - b)))`` to 0 at the last epoch ``E``, as in the authors'
            code (150 on CIFAR-100). ``None`` keeps ``gamma`` constant.
        loss_weight (float): Weight of the whole loss. Defaults to 1.

    Shapes:
        - preds_S, preds_T: ``(N, C)`` logits (no gradient to the teacher)
        - gt_label: ``(N, )`` class indices or ``(N, C)`` (soft/one-hot;
          the arg-max is the target class)
        - output: scalar
    """

    def __init__(self,
                 temperature: float = 4.0,
                 gamma: float = 1.0,
                 cost_matrix_file: Optional[str] = None,
                 kappa: float = 1.0,
                 sinkhorn_lambda: float = 0.05,
                 sinkhorn_iters: int = 10,
                 gamma_decay_begin_epoch: Optional[int] = None,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        check_arg(self, 'temperature', temperature, float, low=0,
                  low_open=True)
        check_arg(self, 'gamma', gamma, float)
        check_arg(self, 'kappa', kappa, float, low=0)
        check_arg(self, 'sinkhorn_lambda', sinkhorn_lambda, float, low=0,
                  low_open=True)
        check_arg(self, 'sinkhorn_iters', sinkhorn_iters, int, low=1)
        check_arg(self, 'loss_weight', loss_weight, float)
        self.temperature = temperature
        self.gamma = gamma
        self.kappa = kappa
        self.sinkhorn_lambda = sinkhorn_lambda
        self.sinkhorn_iters = sinkhorn_iters
        self.gamma_decay_begin_epoch = gamma_decay_begin_epoch
        self.loss_weight = loss_weight
        if cost_matrix_file is None:
            warnings.warn('WKDLogitLoss: no cost_matrix_file; using the '
                          'discrete metric 1 - I between categories')
            cost = None
        else:
            cost = self._sharpen(load_cost_matrix(cost_matrix_file))
        # not persistent: it is an input of the loss, not learned state
        self.register_buffer('cost', cost, persistent=False)

    def _sharpen(self, dist: torch.Tensor) -> torch.Tensor:
        dist = dist.clamp_min(0)
        return 1 - torch.exp(-self.kappa * dist) if self.kappa else dist

    def current_gamma(self) -> float:
        """``gamma`` after the optional cosine decay at the current epoch."""
        return cosine_decayed_weight(self.gamma, self.gamma_decay_begin_epoch)

    def forward(self, preds_S: torch.Tensor, preds_T: torch.Tensor,
                gt_label: torch.Tensor) -> torch.Tensor:
        num, num_classes = preds_S.shape
        preds_T = preds_T.detach().float()
        preds_S = preds_S.float()
        label = gt_label.argmax(1) if gt_label.dim() == 2 else gt_label
        label = label.long().view(num, 1)

        log_p_s = F.log_softmax(preds_S, dim=1)
        p_t = F.softmax(preds_T, dim=1)
        loss_t = -(p_t.gather(1, label) * log_p_s.gather(1, label)).mean()

        cost = self.cost
        if cost is None:
            cost = self._sharpen(1 - torch.eye(num_classes))
        if cost.shape[0] != num_classes:
            raise ValueError(f'cost matrix is {tuple(cost.shape)} but the '
                             f'logits have {num_classes} classes')
        cost = cost.to(preds_S.device)
        # indices of the C - 1 non-target classes of every sample
        keep = torch.ones_like(preds_S, dtype=torch.bool)
        keep.scatter_(1, label, False)
        idx = torch.arange(num_classes, device=preds_S.device).expand(
            num, -1)[keep].view(num, num_classes - 1)
        log_a = F.log_softmax(preds_S.gather(1, idx) / self.temperature, 1)
        log_b = F.log_softmax(preds_T.gather(1, idx) / self.temperature, 1)
        cost_nt = cost[idx.unsqueeze(2), idx.unsqueeze(1)]
        _, wd = sinkhorn(log_a, log_b, cost_nt, self.sinkhorn_lambda,
                         self.sinkhorn_iters)
        return self.loss_weight * (loss_t + self.current_gamma() * wd.mean())
