"""AdaFocusV2's classifier: a prediction at every frame.

Wang et al., "AdaFocus V2", CVPR 2022, Sec. 3.1; the authors'
``PoolingClassifier`` (``models/adafocus_v2.py``). Per frame ``t`` the
concatenated global and local features go through an MLP (linear + BN1d +
ReLU; the authors hard-code 4096 units), a running max over the frames
``1..t`` pools them, and head ``t`` (dropout + linear) predicts. Every head is
supervised; head ``t`` is the exit after ``t`` frames.
"""
from typing import Optional, Tuple

import torch
from torch import Tensor, nn

from mmext.registry import MODELS
from mmext.utils.validation import check_arg

__all__ = ['AdaFocusV2Head']


@MODELS.register_module()
class AdaFocusV2Head(nn.Module):
    """MLP per frame, running max over time, one linear head per frame.

    Args:
        in_channels (int): Concatenated feature width (global + local, e.g.
            1280 + 2048).
        num_classes (int): Number of classes.
        num_segments (int): ``T``, frames per video (one head each).
        hidden_dim (int): MLP width (authors: 4096).
        dropout (float): Dropout before every head.

    Shapes:
        - forward: ``(N, T, in_channels)`` -> ``(N, T, num_classes)``.
        - step: ``(B, in_channels)`` and pooled ``(B, hidden_dim)`` or None
          -> ``(B, num_classes)`` logits and the new pooled feature.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 num_segments: int = 16,
                 hidden_dim: int = 4096,
                 dropout: float = 0.2) -> None:
        check_arg(self, 'in_channels', in_channels, int, low=1)
        check_arg(self, 'num_classes', num_classes, int, low=1)
        check_arg(self, 'num_segments', num_segments, int, low=1)
        check_arg(self, 'hidden_dim', hidden_dim, int, low=1)
        check_arg(self, 'dropout', dropout, float, low=0, high=1)
        super().__init__()
        self.num_segments = num_segments
        self.mlp = nn.Sequential(
            nn.Linear(in_channels, hidden_dim), nn.BatchNorm1d(hidden_dim),
            nn.ReLU())
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Dropout(dropout),
                          nn.Linear(hidden_dim, num_classes))
            for _ in range(num_segments))

    def forward(self, feats: Tensor) -> Tensor:
        """Logits of every frame.

        Args:
            feats (Tensor): ``(N, T, in_channels)`` features.

        Returns:
            Tensor: ``(N, T, num_classes)``; row ``t`` reads frames
            ``0..t``.
        """
        n, t = feats.shape[:2]
        if t != self.num_segments:
            raise ValueError(
                f'AdaFocusV2Head: {t} frames; the head has '
                f'num_segments={self.num_segments} (one per frame)')
        pooled = self.mlp(feats.flatten(0, 1)).view(n, t, -1).cummax(1)[0]
        return torch.stack(
            [head(pooled[:, i]) for i, head in enumerate(self.heads)], 1)

    def step(self, feat: Tensor, pooled: Optional[Tensor],
             index: int) -> Tuple[Tensor, Tensor]:
        """Logits after frame ``index`` (step-wise inference).

        Args:
            feat (Tensor): ``(B, in_channels)`` features of the frame.
            pooled (Tensor, optional): ``(B, hidden_dim)`` running max of
                the previous frames (None at the first frame).
            index (int): Frame index ``t`` (its head).

        Returns:
            tuple[Tensor, Tensor]: ``(B, num_classes)`` logits and the
            running max including frame ``t``.
        """
        z = self.mlp(feat)
        pooled = z if pooled is None else torch.maximum(pooled, z)
        return self.heads[index](pooled), pooled
