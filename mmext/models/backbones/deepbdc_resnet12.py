"""ResNet-12 of DeepBDC (and MetaOptNet / FEAT / DeepEMD's few-shot ResNet-12).

The authors' ``network/resnet.py`` ``resnet(BasicBlockVariant, [1, 1, 1, 1])``:
widths 64-160-320-640, one block per stage, strides 2-2-2-1, so an 84 x 84
image gives a 640 x 10 x 10 map; 12,424,320 parameters. The authors' DropBlock
is never enabled by their scripts (``drop_rate=0``) and is not built here.
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

__all__ = ['DeepBDCResNet12']


class ResNet12Block(nn.Module):
    """Three 3x3 conv-BN(-act) layers, a 1x1 conv-BN shortcut, activation
    after the sum, then max pooling with kernel = stride = ``stride``.

    Shapes:
        - input: ``(B, in_channels, H, W)``
        - output: ``(B, out_channels, floor(H / stride), floor(W / stride))``
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 conv_cfg: Optional[dict], norm_cfg: dict,
                 act_cfg: dict) -> None:
        super().__init__()
        for i, cin in enumerate((in_channels, out_channels, out_channels), 1):
            self.add_module(
                f'conv{i}',
                build_conv_layer(conv_cfg, cin, out_channels, 3, padding=1,
                                 bias=False))
            self.add_module(f'bn{i}',
                            build_norm_layer(norm_cfg, out_channels)[1])
        self.act = build_activation_layer(act_cfg)
        self.downsample = nn.Sequential(
            build_conv_layer(conv_cfg, in_channels, out_channels, 1,
                             bias=False),
            build_norm_layer(norm_cfg, out_channels)[1])
        self.maxpool = nn.MaxPool2d(stride)

    def forward(self, x: Tensor) -> Tensor:
        out = self.act(self.bn1(self.conv1(x)))
        out = self.act(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.maxpool(self.act(out + self.downsample(x)))


@MODELS.register_module()
class DeepBDCResNet12(FrozenStagesMixin, BaseBackbone):
    """ResNet-12 for few-shot learning (84 x 84 inputs).

    Args:
        widths (Sequence[int]): Channels of the four stages. Defaults to
            (64, 160, 320, 640).
        strides (Sequence[int]): Max-pool stride of each stage. Defaults to
            (2, 2, 2, 1).
        out_indices (Sequence[int]): Stages whose maps are returned.
            Defaults to (3, ).
        frozen_stages (int): Stages frozen (eval mode, no gradients);
            -1 freezes none. Defaults to -1.
        norm_eval (bool): Keep every BN in eval mode. Defaults to False.
        conv_cfg (dict, optional): Conv layer config.
        norm_cfg (dict): Norm config. Defaults to BN.
        act_cfg (dict): Activation. Defaults to LeakyReLU(0.1).
        init_cfg (dict, optional): Defaults to Kaiming (fan-out,
            leaky_relu) convs and unit BN, as the authors.

    Shapes:
        - input: ``(B, 3, H, W)``
        - output: tuple of ``(B, widths[i], H_i, W_i)`` for ``out_indices``
          (``(B, 640, 10, 10)`` at 84 x 84)
    """

    def __init__(self,
                 widths: Sequence[int] = (64, 160, 320, 640),
                 strides: Sequence[int] = (2, 2, 2, 1),
                 out_indices: Sequence[int] = (3, ),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='LeakyReLU', negative_slope=0.1),
                 init_cfg: Optional[dict] = (
                     dict(type='Kaiming', layer='Conv2d', mode='fan_out',
                          nonlinearity='leaky_relu'),
                     dict(type='Constant', val=1, layer='BatchNorm2d'))
                 ) -> None:
        super().__init__(init_cfg=list(init_cfg) if isinstance(
            init_cfg, tuple) else init_cfg)
        check_arg(self, 'widths', widths, (list, tuple))
        check_arg(self, 'strides', strides, (list, tuple))
        if len(widths) != 4 or len(strides) != 4 or not all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 1
                for v in (*widths, *strides)):
            raise ValueError(
                f'DeepBDCResNet12: widths={widths!r} and strides={strides!r} '
                'must each be 4 ints >= 1')
        check_arg(self, 'out_indices', out_indices, (list, tuple))
        for i in out_indices:
            check_arg(self, 'out_indices', i, int, low=0, high=3)
        check_arg(self, 'frozen_stages', frozen_stages, int, low=-1, high=4)
        check_arg(self, 'norm_eval', norm_eval, bool)
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        cin = 3
        for i, (w, s) in enumerate(zip(widths, strides), 1):
            self.add_module(
                f'layer{i}',
                nn.Sequential(
                    ResNet12Block(cin, w, s, conv_cfg, norm_cfg, act_cfg)))
            cin = w
        self.out_channels = cin
        self._freeze_stages()

    def _freeze_stages(self) -> None:
        for i in range(1, self.frozen_stages + 1):
            layer = getattr(self, f'layer{i}')
            layer.eval()
            for p in layer.parameters():
                p.requires_grad = False

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        outs = []
        for i in range(4):
            x = getattr(self, f'layer{i + 1}')(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
