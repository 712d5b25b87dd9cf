"""Unsupervised contrastive style loss of RISA.

`Assessing a Single Image in Reference-Guided Image Synthesis
<https://arxiv.org/abs/2112.04163>`_ (Guo et al., AAAI 2022): the style
extractor should map a reference and an augmented view of it (same style)
close together and other references apart, without any quality label.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmext.registry import MODELS
from mmext.utils.validation import check_arg


@MODELS.register_module()
class StyleContrastiveLoss(nn.Module):
    """InfoNCE between references and their augmented views.

    With ``a_i`` the L2-normalised feature of reference ``i`` and ``p_j``
    that of the augmented view of reference ``j``::

        loss = -1/N sum_i log( exp(a_i . p_i / t) / sum_j exp(a_i . p_j / t) )

    i.e. the positive of a reference is its own view and the negatives are
    the views of the other ``N - 1`` references of the batch (the paper
    does not state its positives and negatives; this is mmext's reading).
    References must be distinct styles: a duplicate would be a negative of
    itself.

    Args:
        temperature (float): ``t``. Defaults to 0.1.
        loss_weight (float): Weight of the loss. Defaults to 1.

    Shapes:
        - anchor: ``(N, D)`` features of ``N >= 2`` distinct references
        - positive: ``(N, D)`` features of their augmented views
        - output: scalar
    """

    def __init__(self,
                 temperature: float = 0.1,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        self.temperature = check_arg(self, 'temperature', temperature, float,
                                     low=0, low_open=True)
        self.loss_weight = check_arg(self, 'loss_weight', loss_weight, float)

    def forward(self, anchor: torch.Tensor,
                positive: torch.Tensor) -> torch.Tensor:
        if anchor.shape != positive.shape or anchor.dim() != 2 \
                or anchor.shape[0] < 2:
            raise ValueError(
                f'{type(self).__name__}: expected two (N, D) feature '
                f'batches with N >= 2, got {tuple(anchor.shape)} and '
                f'{tuple(positive.shape)}')
        logits = F.normalize(anchor, dim=1) @ F.normalize(
            positive, dim=1).T / self.temperature
        target = torch.arange(anchor.shape[0], device=anchor.device)
        return self.loss_weight * F.cross_entropy(logits, target)
