"""MobileNetV1 for ImageNet, the student of the ImageNet KD benchmark.

`MobileNets: Efficient Convolutional Neural Networks for Mobile Vision
Applications <https://arxiv.org/abs/1704.04861>`_ (Howard et al., 2017),
Table 1. The layout is that of the ImageNet model zoo used by CRD, mdistiller
and WKD (``mdistiller/models/imagenet/mobilenetv1.py``): a 3x3 stride-2 stem
with 32 channels and 13 depthwise-separable blocks, every conv followed by
BN and ReLU, no bias. Their four feature stages end after blocks 3, 5, 11
and 13 (128 / 256 / 512 / 1024 channels at strides 4 / 8 / 16 / 32), which
are this backbone's stages. mmpretrain has MobileNetV2/V3 but no V1.
"""
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from mmpretrain.models.utils import make_divisible

from mmext.registry import MODELS
from mmext.utils.validation import check_arg
from ..utils.frozen_stages import FrozenStagesMixin


@MODELS.register_module()
class MobileNetV1(FrozenStagesMixin, BaseBackbone):
    """MobileNetV1 backbone.

    Args:
        widen_factor (float): Width multiplier ``alpha`` of the paper
            (Sec. 3.3): every channel count is scaled by it (rounded to a
            multiple of 8). Defaults to 1.
        out_indices (Sequence[int]): Stages (0-3) to return. Defaults to
            ``(3, )``.
        frozen_stages (int): Stages to freeze (parameters fixed, BN in eval
            mode): -1 none, 0 the stem, ``i`` the stem and stages
            ``1 .. i``. Defaults to -1.
        conv_cfg (dict, optional): Conv layer config.
        norm_cfg (dict): Norm layer config. Defaults to BN.
        act_cfg (dict): Activation config. Defaults to ReLU.
        norm_eval (bool): Keep BN layers in eval mode. Defaults to False.
        init_cfg (dict | list[dict], optional): Initialization config.

    Shapes:
        - input: ``(N, 3, H, W)``
        - output: a tuple with, per index ``i`` in ``out_indices``, a
          ``(N, C_i, H / 2**(i+2), W / 2**(i+2))`` tensor, ``C_i`` in
          ``(128, 256, 512, 1024)`` times ``widen_factor``; every output is
          after its ReLU.
    """

    #: (out_channels, stride) of the depthwise-separable blocks per stage.
    arch_settings = (
        ((64, 1), (128, 2), (128, 1)),
        ((256, 2), (256, 1)),
        ((512, 2), ) + ((512, 1), ) * 5,
        ((1024, 2), (1024, 1)),
    )
    stem_channels = 32

    def __init__(self,
                 widen_factor: float = 1.0,
                 out_indices: Sequence[int] = (3, ),
                 frozen_stages: int = -1,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
                 norm_eval: bool = False,
                 init_cfg: Optional[Union[dict, list]] = [
                     dict(type='Kaiming', layer=['Conv2d']),
                     dict(type='Constant', val=1, layer=['_BatchNorm'])
                 ]) -> None:
        super().__init__(init_cfg)
        num_stages = len(self.arch_settings)
        check_arg(self, 'widen_factor', widen_factor, float, low=0,
                  low_open=True)
        check_arg(self, 'frozen_stages', frozen_stages, int, low=-1,
                  high=num_stages)
        for i in out_indices:
            assert 0 <= i < num_stages, \
                f'out_indices must be in [0, {num_stages - 1}], got {i}'
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

        in_channels = make_divisible(self.stem_channels * widen_factor, 8)
        self.conv1 = ConvModule(
            3,
            in_channels,
            3,
            stride=2,
            padding=1,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg)
        self.layers = []
        for i, blocks in enumerate(self.arch_settings):
            stage = []
            for channels, stride in blocks:
                out_channels = make_divisible(channels * widen_factor, 8)
                stage.append(
                    DepthwiseSeparableConvModule(
                        in_channels,
                        out_channels,
                        3,
                        stride=stride,
                        padding=1,
                        conv_cfg=conv_cfg,
                        norm_cfg=norm_cfg,
                        act_cfg=act_cfg))
                in_channels = out_channels
            self.add_module(f'layer{i + 1}', nn.Sequential(*stage))
            self.layers.append(f'layer{i + 1}')
        self._freeze_stages()

    def _freeze_stages(self) -> None:
        frozen = [self.conv1] + [getattr(self, n) for n in self.layers]
        for m in frozen[:self.frozen_stages + 1]:
            m.eval()
            for p in m.parameters():
                p.requires_grad = False

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        x = self.conv1(x)
        outs = []
        for i, name in enumerate(self.layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
