"""So-ViT classification head: class token + second-order visual tokens.

`So-ViT: Mind Visual Tokens for Vision Transformer
<https://arxiv.org/abs/2104.10935>`_; authors' code: jiangtaoxie/So-ViT at
commit c2d076e (``src/model/classifier.py``,
``src/representation/covariance.py``, ``src/normalization/svPN.py``).
``logits = fc_cls(class token) + fc_vis(svPN(cross-covariance of the visual
tokens))`` (Sec. 3).
"""
from typing import Dict, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmpretrain.models.heads import ClsHead
from torch import Tensor

from mmext.ops.cov_sqrt import cross_cov_pool
from mmext.registry import MODELS
from mmext.utils.validation import check_arg


def sv_power_norm(x: Tensor,
                  v0: Tensor,
                  alpha: float = 0.5,
                  num_iter: int = 1,
                  eps: float = 1e-5) -> Tensor:
    """Singular-value power normalization with the top singular triple
    estimated by power iteration (So-ViT, svPN, Sec. 3.2).

    From ``p = v0``, ``num_iter`` steps of ``q = normalize(X^T p)``,
    ``p = normalize(X q)`` give ``s = p^T X q``; the output is
    ``s^alpha p q^T + (X - s p q^T) / (s^(1 - alpha) + eps)``: the top
    singular value is raised to ``alpha`` and the remainder is divided by
    ``s^(1 - alpha)``. Once converged, this is ``U f(S) V^T`` with
    ``f(s_1) = s_1^alpha`` and ``f(s_i) = s_i / (s_1^(1 - alpha) + eps)``.
    (The authors' ``svNum=1``, in their transposed orientation.)

    ``s`` is floored at 1e-12 inside both powers so that an all-zero ``X``
    (dead ReLU branches) keeps finite gradients.

    Args:
        x (Tensor): Matrices ``(B, C1, C2)``.
        v0 (Tensor): Start vector ``(C1,)`` (learnable in So-ViT).
        alpha (float): Power of the top singular value. Defaults to 0.5.
        num_iter (int): Power-iteration steps. Defaults to 1.
        eps (float): Added to ``s^(1 - alpha)`` in the residual's divisor.

    Returns:
        Tensor: ``(B, C1, C2)``.
    """
    p = v0.to(x).view(1, -1, 1).expand(x.size(0), -1, 1)
    for _ in range(num_iter):
        q = F.normalize(torch.bmm(x.transpose(1, 2), p), dim=1)
        p = F.normalize(torch.bmm(x, q), dim=1)
    s = torch.bmm(torch.bmm(p.transpose(1, 2), x), q)  # (B, 1, 1)
    top = torch.bmm(p, q.transpose(1, 2))  # p q^T, (B, C1, C2)
    residual = x - s * top
    s_floor = s.clamp_min(1e-12)
    return s_floor.pow(alpha) * top + \
        residual / (s_floor.pow(1 - alpha) + eps)


@MODELS.register_module()
class SoViTHead(ClsHead):
    """So-ViT head: ``fc_cls(cls) + fc_vis(svPN(cross-cov(tokens)))``.

    The visual tokens go through two 1x1 conv + BN + ReLU branches (C ->
    C1 and C -> C2); their cross-covariance (mean removed, ``X1 X2^T / N``,
    :func:`mmext.ops.cov_sqrt.cross_cov_pool`) is normalised by
    :func:`sv_power_norm`, flattened to ``C1 * C2`` and classified; the
    class token has its own linear classifier and the logits are summed.

    Args:
        num_classes (int): Classes.
        in_channels (int): Token channels C.
        reduced_channels (Sequence[int]): ``(C1, C2)``; the authors use
            (48, 24) for So-ViT-7/10, (64, 48) for -14 and (96, 48) for -19.
        alpha (float): svPN power. Defaults to 0.5.
        num_iter (int): Power-iteration steps. Defaults to 1.
        dropout (float): Dropout on the normalised ``C1 * C2`` vector (0.5
            for So-ViT-14/19, none for -7/10). Defaults to 0.
        norm_cfg (dict): Norm of the branches. Defaults to BN.
        act_cfg (dict): Activation of the branches. Defaults to ReLU.
        init_cfg (dict or list[dict], optional): Defaults to the authors'
            (truncated normal 0.02 for the linear layers; the branch convs
            are Kaiming fan-out, BN 1/0, by ConvModule).
        **kwargs: ``loss``, ``topk``, ``cal_acc`` of :class:`ClsHead`.

    Shapes:
        - input: the backbone's tuple; its last item is ``(cls_token (B, C),
          visual_tokens (B, C, H, W))``.
        - output: (B, num_classes)
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 reduced_channels: Sequence[int] = (64, 48),
                 alpha: float = 0.5,
                 num_iter: int = 1,
                 dropout: float = 0.,
                 norm_cfg: Dict = dict(type='BN'),
                 act_cfg: Dict = dict(type='ReLU'),
                 init_cfg=dict(
                     type='TruncNormal', layer='Linear', std=.02, bias=0.),
                 **kwargs):
        super().__init__(init_cfg=init_cfg, **kwargs)
        check_arg(self, 'num_classes', num_classes, int, low=1)
        check_arg(self, 'in_channels', in_channels, int, low=1)
        check_arg(self, 'alpha', alpha, float)
        check_arg(self, 'num_iter', num_iter, int, low=1)
        check_arg(self, 'dropout', dropout, float, low=0, high=1)
        if len(reduced_channels) != 2:
            raise ValueError('reduced_channels must be (C1, C2), but got '
                             f'{reduced_channels}')
        c1, c2 = reduced_channels
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.alpha = alpha
        self.num_iter = num_iter
        self.branch1 = ConvModule(
            in_channels, c1, 1, bias=False, norm_cfg=norm_cfg,
            act_cfg=act_cfg)
        self.branch2 = ConvModule(
            in_channels, c2, 1, bias=False, norm_cfg=norm_cfg,
            act_cfg=act_cfg)
        self.sv_vector = nn.Parameter(torch.randn(c1))
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc_cls = nn.Linear(in_channels, num_classes)
        self.fc_vis = nn.Linear(c1 * c2, num_classes)

    def pre_logits(self, feats: Tuple) -> Tuple[Tensor, Tensor]:
        """The last stage's ``(cls_token (B, C), svPN vector (B, C1 C2))``
        (the svPN vector before dropout)."""
        cls_token, tokens = feats[-1]
        cov = cross_cov_pool(self.branch1(tokens), self.branch2(tokens))
        z = sv_power_norm(cov, self.sv_vector, self.alpha, self.num_iter)
        return cls_token, z.flatten(1)

    def forward(self, feats: Tuple) -> Tensor:
        cls_token, z = self.pre_logits(feats)
        return self.fc_cls(cls_token) + self.fc_vis(self.dropout(z))
