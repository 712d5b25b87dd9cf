"""ResNet-18 of DeepBDC on CUB (CloserLook / low-shot-hallucinate style).

The authors' ``network/resnet.py`` ``ResNet(SimpleBlock, [2, 2, 2, 2])``:
7x7/2 conv + BN + ReLU + 3x3/2 max pool, four stages of two basic blocks,
the fourth **not** down-sampled (``half_res`` is false for it), so a
224 x 224 image gives a 512 x 14 x 14 map; 11,176,512 parameters.
"""
from typing import Optional, Sequence, Tuple

import torch.nn as nn
from mmcv.cnn import (build_activation_layer, build_conv_layer,
                      build_norm_layer)
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from torch import Tensor

from mmext.models.utils import FrozenStagesMixin
from mmext.registry import MODELS
from mmext.utils.validation import check_arg

__all__ = ['DeepBDCResNet18']


class SimpleBlock(nn.Module):
    """Basic block: 3x3 conv-BN-act, 3x3 conv-BN, 1x1 conv-BN shortcut when
    the width or stride changes, activation after the sum.

    Shapes:
        - input: ``(B, in_channels, H, W)``
        - output: ``(B, out_channels, ceil(H / stride), ceil(W / stride))``
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 conv_cfg: Optional[dict], norm_cfg: dict,
                 act_cfg: dict) -> None:
        super().__init__()
        self.conv1 = build_conv_layer(conv_cfg, in_channels, out_channels, 3,
                                      stride=stride, padding=1, bias=False)
        self.bn1 = build_norm_layer(norm_cfg, out_channels)[1]
        self.conv2 = build_conv_layer(conv_cfg, out_channels, out_channels,
                                      3, padding=1, bias=False)
        self.bn2 = build_norm_layer(norm_cfg, out_channels)[1]
        self.act = build_activation_layer(act_cfg)
        if in_channels != out_channels or stride != 1:
            self.downsample = nn.Sequential(
                build_conv_layer(conv_cfg, in_channels, out_channels, 1,
                                 stride=stride, bias=False),
                build_norm_layer(norm_cfg, out_channels)[1])
        else:
            self.downsample = None

    def forward(self, x: Tensor) -> Tensor:
        out = self.act(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        short = x if self.downsample is None else self.downsample(x)
        return self.act(out + short)


@MODELS.register_module()
class DeepBDCResNet18(FrozenStagesMixin, BaseBackbone):
    """ResNet-18 with a stride-1 last stage (224 x 224 -> 14 x 14).

    Args:
        strides (Sequence[int]): Stride of each stage's first block.
            Defaults to (1, 2, 2, 1).
        out_indices (Sequence[int]): Stages returned. Defaults to (3, ).
        frozen_stages (int): Stages frozen, 0 = the stem only; -1 none.
            Defaults to -1.
        norm_eval (bool): Keep every BN in eval mode. Defaults to False.
        conv_cfg (dict, optional): Conv layer config.
        norm_cfg (dict): Norm config. Defaults to BN.
        act_cfg (dict): Activation. Defaults to ReLU.
        init_cfg (dict, optional): Defaults to Kaiming (fan-out) convs and
            unit BN.

    Shapes:
        - input: ``(B, 3, H, W)``
        - output: tuple of maps for ``out_indices``
          (``(B, 512, 14, 14)`` at 224 x 224)
    """
    widths = (64, 128, 256, 512)

    def __init__(self,
                 strides: Sequence[int] = (1, 2, 2, 1),
                 out_indices: Sequence[int] = (3, ),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
                 init_cfg: Optional[dict] = (
                     dict(type='Kaiming', layer='Conv2d', mode='fan_out'),
                     dict(type='Constant', val=1, layer='BatchNorm2d'))
                 ) -> None:
        super().__init__(init_cfg=list(init_cfg) if isinstance(
            init_cfg, tuple) else init_cfg)
        check_arg(self, 'strides', strides, (list, tuple))
        if len(strides) != 4 or not all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 1
                for v in strides):
            raise ValueError(f'DeepBDCResNet18: strides={strides!r} must be '
                             '4 ints >= 1')
        check_arg(self, 'out_indices', out_indices, (list, tuple))
        for i in out_indices:
            check_arg(self, 'out_indices', i, int, low=0, high=3)
        check_arg(self, 'frozen_stages', frozen_stages, int, low=-1, high=4)
        check_arg(self, 'norm_eval', norm_eval, bool)
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.conv1 = build_conv_layer(conv_cfg, 3, 64, 7, stride=2,
                                      padding=3, bias=False)
        self.bn1 = build_norm_layer(norm_cfg, 64)[1]
        self.act = build_activation_layer(act_cfg)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        cin = 64
        for i, (w, s) in enumerate(zip(self.widths, strides), 1):
            self.add_module(
                f'layer{i}',
                nn.Sequential(
                    SimpleBlock(cin, w, s, conv_cfg, norm_cfg, act_cfg),
                    SimpleBlock(w, w, 1, conv_cfg, norm_cfg, act_cfg)))
            cin = w
        self.out_channels = cin
        self._freeze_stages()

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        stem = [self.conv1, self.bn1]
        layers = [getattr(self, f'layer{i}')
                  for i in range(1, self.frozen_stages + 1)]
        for m in stem + layers:
            m.eval()
            for p in m.parameters():
                p.requires_grad = False

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        x = self.maxpool(self.act(self.bn1(self.conv1(x))))
        outs = []
        for i in range(4):
            x = getattr(self, f'layer{i + 1}')(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
