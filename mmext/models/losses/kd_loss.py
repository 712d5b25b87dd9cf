"""Hinton knowledge distillation loss.

`Distilling the Knowledge in a Neural Network
<https://arxiv.org/abs/1503.02531>`_ (Hinton et al., 2015).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmext.registry import MODELS
from mmext.utils.validation import check_arg


@MODELS.register_module()
class KDLoss(nn.Module):
    """``tau^2 * KL(softmax(z_T / tau) || softmax(z_S / tau))``.

    The KL divergence is summed over classes and averaged over the batch;
    the ``tau^2`` factor keeps gradient magnitudes independent of ``tau``
    (Hinton et al., Sec. 2).

    Args:
        tau (float): Temperature. Defaults to 4 (the CIFAR-100 benchmark).
        loss_weight (float): Weight of the loss. Defaults to 1.

    Shapes:
        - preds_S: ``(N, C)`` student logits
        - preds_T: ``(N, C)`` teacher logits (no gradient is taken)
        - output: scalar
    """

    def __init__(self, tau: float = 4.0, loss_weight: float = 1.0) -> None:
        super().__init__()
        check_arg(self, 'tau', tau, float, low=0, low_open=True)
        check_arg(self, 'loss_weight', loss_weight, float)
        self.tau = tau
        self.loss_weight = loss_weight

    def forward(self, preds_S: torch.Tensor,
                preds_T: torch.Tensor) -> torch.Tensor:
        log_p_s = F.log_softmax(preds_S / self.tau, dim=1)
        log_p_t = F.log_softmax(preds_T.detach() / self.tau, dim=1)
        kl = F.kl_div(log_p_s, log_p_t, reduction='none',
                      log_target=True).sum(1).mean()
        return self.loss_weight * self.tau**2 * kl
