"""Per-sample weights of the models of a teacher ensemble by attention.

The self-attention module of EEKD (`Learn From the Past: Experience
Ensemble Knowledge Distillation <https://arxiv.org/abs/2202.12488>`_,
Wang et al., 2022): the features of the student and of the ``M``
intermediate teacher models are projected to a common space, and the
student's token attends to the teachers' tokens; the attention scores are
the weights of the teachers' outputs in the ensemble.
"""
import math
from typing import Optional, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmext.registry import MODELS
from mmext.utils.validation import check_arg


@MODELS.register_module()
class EnsembleAttention(BaseModule):
    """``w = softmax_m(<W_q h_S, W_k h_m> / sqrt(d))`` with the projected
    features ``h_S = ReLU(P_S f_S)`` of the student and
    ``h_m = ReLU(P_T f_m)`` of teacher ``m`` (one projection shared by
    the teachers, which have the same architecture).

    Feature maps are global-average pooled first. There is no official code
    of EEKD; the projection (linear + ReLU to ``embed_dims``) and the
    scaled dot-product scores are mmext's reading of the paper's
    "self-attention module" over "projected student and teacher features".

    Args:
        student_channels (int): Channels of the student feature ``C_S``.
        teacher_channels (int): Channels of a teacher feature ``C_T``.
        embed_dims (int): Dimension ``d`` of the common space. Defaults
            to 128.
        init_cfg (dict | list[dict], optional): Initialization config.

    Shapes:
        - feat_S: ``(N, C_S)`` or ``(N, C_S, H, W)``
        - feats_T: ``(N, M, C_T)`` or ``(N, M, C_T, H', W')``
        - output: ``(N, M)`` weights, positive, summing to 1 over ``M``
    """

    def __init__(self,
                 student_channels: int,
                 teacher_channels: int,
                 embed_dims: int = 128,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg)
        for name, value in dict(student_channels=student_channels,
                                teacher_channels=teacher_channels,
                                embed_dims=embed_dims).items():
            check_arg(self, name, value, int, low=1)
        self.embed_dims = embed_dims
        self.proj_student = nn.Sequential(
            nn.Linear(student_channels, embed_dims), nn.ReLU(inplace=True))
        self.proj_teacher = nn.Sequential(
            nn.Linear(teacher_channels, embed_dims), nn.ReLU(inplace=True))
        self.query = nn.Linear(embed_dims, embed_dims)
        self.key = nn.Linear(embed_dims, embed_dims)

    def forward(self, feat_S: torch.Tensor,
                feats_T: torch.Tensor) -> torch.Tensor:
        if feat_S.dim() == 4:
            feat_S = feat_S.mean((2, 3))
        if feats_T.dim() == 5:
            feats_T = feats_T.mean((3, 4))
        if feat_S.dim() != 2 or feats_T.dim() != 3 or \
                feats_T.shape[0] != feat_S.shape[0]:
            raise ValueError(
                'EnsembleAttention expects feat_S (N, C_S[, H, W]) and '
                'feats_T (N, M, C_T[, H, W]), got '
                f'{tuple(feat_S.shape)} and {tuple(feats_T.shape)}')
        q = self.query(self.proj_student(feat_S))  # (N, d)
        k = self.key(self.proj_teacher(feats_T))  # (N, M, d)
        scores = torch.einsum('nd,nmd->nm', q, k) / math.sqrt(
            self.embed_dims)
        return scores.softmax(dim=1)
