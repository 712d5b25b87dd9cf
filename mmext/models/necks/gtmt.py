"""GTMT: TAMT's grouped temporal covariance head, as a neck.

TAMT (CVPR 2025) adds to the pooled ViT feature ``g`` an embedding of
second-order temporal statistics (the authors' ``MetaTemplate.parse_feature``
with ``class_head='temporal_cov'``, ``class_way='add'``):

1. the token map is reduced by two 1x1 conv + BN + ReLU (384 -> 128 -> 64);
2. its ``T'`` frames are regrouped into ``G`` groups of frames
   ``{n, n + G, n + 2G, ...}`` whose channels are stacked (64 x 2 = 128
   channels at 7 x 7 positions for ``T' = 8``, ``G = 4``);
3. each group's covariance square root (iSQRT, 3 iterations, the authors'
   ``MPNCOV.py``: :func:`mmext.models.utils.mpncov_isqrt`);
4. the ``G`` matrices as channels: 3x3 conv + BN + ReLU (G -> G / 2), 3x3
   stride-2 conv + BN + ReLU (-> G / 4), flattened (4,096 for 128 x 128)
   and a linear layer to the feature size;
5. ``z = g + linear(...)``.
"""
from typing import Dict, Mapping, Sequence, Tuple

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from mmext.models.utils.mpncov import mpncov_isqrt
from mmext.registry import MODELS
from mmext.utils.converter import rename_by_rules
from mmext.utils.validation import check_arg

__all__ = ['GTMTNeck', 'gtmt_to_mmext']


@MODELS.register_module()
class GTMTNeck(BaseModule):
    """Grouped temporal covariance embedding added to the pooled feature.

    Args:
        in_channels (int): Channels ``C`` of the token map and of ``g``.
            Defaults to 384 (ViT-S).
        reduce_channels (Sequence[int]): The two 1x1 reductions. Defaults to
            ``(128, 64)`` (the authors' ``C / 3``, ``C / 6``).
        num_segments (int): Temporal tokens ``T'``. Defaults to 8.
        num_groups (int): Frame groups ``G``: a multiple of 4 (the fusion
            convolutions have ``G / 2`` and ``G / 4`` channels) dividing
            ``T'``. Defaults to 4.
        num_iter (int): Newton-Schulz iterations. Defaults to 3.
        init_cfg (dict, optional): Initialisation config.

    Shapes:
        - input: ``(g, y)``: ``g`` ``(B, C)``, ``y`` ``(B, C, T', h, w)``
          (:class:`~mmext.models.backbones.TAMTViT`'s output).
        - output: ``(B, C)``.
    """

    def __init__(self,
                 in_channels: int = 384,
                 reduce_channels: Sequence[int] = (128, 64),
                 num_segments: int = 8,
                 num_groups: int = 4,
                 num_iter: int = 3,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        check_arg(self, 'in_channels', in_channels, int, low=1)
        check_arg(self, 'reduce_channels', reduce_channels, (list, tuple))
        if len(reduce_channels) != 2:
            raise ValueError(
                f'GTMTNeck: reduce_channels={reduce_channels!r} must hold '
                'two channel counts')
        for c in reduce_channels:
            check_arg(self, 'reduce_channels[]', c, int, low=1)
        check_arg(self, 'num_segments', num_segments, int, low=1)
        check_arg(self, 'num_groups', num_groups, int, low=4)
        if num_groups % 4 or num_segments % num_groups:
            raise ValueError(
                f'GTMTNeck: num_groups={num_groups} must be a multiple of 4 '
                f'and divide num_segments={num_segments}')
        check_arg(self, 'num_iter', num_iter, int, low=1)
        self.num_segments = num_segments
        self.num_groups = num_groups
        self.num_iter = num_iter
        c1, c2 = reduce_channels
        bn = dict(type='BN')
        relu = dict(type='ReLU')
        self.reduce1 = ConvModule(
            in_channels, c1, 1, bias=False, norm_cfg=bn, act_cfg=relu)
        self.reduce2 = ConvModule(
            c1, c2, 1, bias=False, norm_cfg=bn, act_cfg=relu)
        self.fuse1 = ConvModule(
            num_groups,
            num_groups // 2,
            3,
            padding=1,
            bias=False,
            norm_cfg=bn,
            act_cfg=relu)
        self.fuse2 = ConvModule(
            num_groups // 2,
            num_groups // 4,
            3,
            stride=2,
            padding=1,
            bias=False,
            norm_cfg=bn,
            act_cfg=relu)
        dim = c2 * num_segments // num_groups  # channels of a group
        side = (dim + 1) // 2  # after the stride-2 fusion
        self.fc = nn.Linear(num_groups // 4 * side * side, in_channels)

    def forward(self, inputs: Tuple[Tensor, Tensor]) -> Tensor:
        g, y = inputs
        b, c, t, h, w = y.shape
        if t != self.num_segments:
            raise ValueError(
                f'GTMTNeck: the token map has {t} temporal positions, '
                f'model.neck.num_segments is {self.num_segments}')
        # (B, C, T' h, w): the authors' layout; 1x1 convs see every token
        y = self.reduce2(self.reduce1(y.reshape(b, c, t * h, w)))
        c2 = y.size(1)
        groups = self.num_groups
        y = y.view(b, c2, t // groups, groups, h * w).permute(0, 3, 1, 2, 4)
        y = y.reshape(b * groups, c2 * t // groups, h * w)
        cov = mpncov_isqrt(y, self.num_iter, triu=False).to(g.dtype)
        cov = cov.view(b, groups, cov.size(-1), cov.size(-1))
        return g + self.fc(self.fuse2(self.fuse1(cov)).flatten(1))


#: The authors' ``MetaTemplate`` keys -> :class:`GTMTNeck` keys.
_AUTHORS_RULES = (
    (r'layer_reduce([12])\.', r'reduce\1.conv.'),
    (r'layer_reduce_bn([12])\.', r'reduce\1.bn.'),
    (r'layer_reduce3\.', 'fuse1.conv.'),
    (r'layer_reduce_bn3\.', 'fuse1.bn.'),
    (r'layer_reduce4\.', 'fuse2.conv.'),
    (r'layer_reduce_bn4\.', 'fuse2.bn.'),
    (r'head2\.', 'fc.'),
)


def gtmt_to_mmext(state: Mapping[str, Tensor],
                  source: str = 'checkpoint') -> Dict[str, Tensor]:
    """The GTMT head's tensors of a TAMT checkpoint (``layer_reduce*``,
    ``layer_reduce_bn*``, ``head2``) under :class:`GTMTNeck`'s keys; other
    keys (the ``feature.`` backbone) are left out.

    Raises:
        ValueError: ``state`` holds no GTMT head (names ``source``).
    """
    out = {}
    for key, value in state.items():
        if key.startswith(('layer_reduce', 'head2.')):
            out[rename_by_rules(key, _AUTHORS_RULES,
                                f'{source}, a TAMT head')] = value
    if not out:
        raise ValueError(f'{source} holds no TAMT head (layer_reduce*, '
                         'head2.* keys)')
    return out
