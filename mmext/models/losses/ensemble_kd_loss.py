"""Knowledge distillation from a (weighted) ensemble of teachers.

The soft target is the mixture of the teachers' softened outputs: uniform
for a standard ensemble of independently trained teachers, per-sample
attention weights in EEKD (`Learn From the Past: Experience Ensemble
Knowledge Distillation <https://arxiv.org/abs/2202.12488>`_, Wang et al.,
2022).
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmext.registry import MODELS
from mmext.utils.validation import check_arg


@MODELS.register_module()
class EnsembleKDLoss(nn.Module):
    """``tau^2 * KL(p_E || softmax(z_S / tau))`` with the ensemble target
    ``p_E = sum_m w_m softmax(z_m / tau)``.

    The KL divergence is summed over classes and averaged over the batch,
    as in :class:`KDLoss`, to which it reduces for one teacher. Teacher
    logits are detached; the weights are not, so an attention module that
    produces them is trained by this loss.

    Args:
        tau (float): Temperature. Defaults to 5 (EEKD).
        loss_weight (float): Weight of the loss (``1 - alpha`` in EEKD's
            ``alpha * CE + (1 - alpha) * KD``). Defaults to 1.

    Shapes:
        - preds_S: ``(N, C)`` student logits
        - preds_T: ``(N, M, C)`` logits of the ``M`` teachers
        - weights: ``(N, M)``, non-negative and summing to 1 per sample;
          ``None`` for the uniform ``1 / M``
        - output: scalar
    """

    def __init__(self, tau: float = 5.0, loss_weight: float = 1.0) -> None:
        super().__init__()
        check_arg(self, 'tau', tau, float, low=0, low_open=True)
        check_arg(self, 'loss_weight', loss_weight, float)
        self.tau = tau
        self.loss_weight = loss_weight

    def forward(self,
                preds_S: torch.Tensor,
                preds_T: torch.Tensor,
                weights: Optional[torch.Tensor] = None) -> torch.Tensor:
        if preds_T.dim() != 3 or preds_T.shape[0] != preds_S.shape[0] \
                or preds_T.shape[2] != preds_S.shape[1]:
            raise ValueError('preds_T must be (N, M, C) matching preds_S '
                             f'{tuple(preds_S.shape)}, got '
                             f'{tuple(preds_T.shape)}')
        p_t = F.softmax(preds_T.detach() / self.tau, dim=2)
        if weights is None:
            p_e = p_t.mean(1)
        else:
            if weights.shape != preds_T.shape[:2]:
                raise ValueError(f'weights must be (N, M) = '
                                 f'{tuple(preds_T.shape[:2])}, got '
                                 f'{tuple(weights.shape)}')
            p_e = (weights.unsqueeze(2) * p_t).sum(1)
        log_p_s = F.log_softmax(preds_S / self.tau, dim=1)
        kl = F.kl_div(log_p_s, p_e, reduction='none').sum(1).mean()
        return self.loss_weight * self.tau**2 * kl
