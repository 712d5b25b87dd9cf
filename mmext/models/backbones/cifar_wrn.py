"""Wide residual networks for CIFAR (WRN-d-k), as in the KD benchmark.

`Wide Residual Networks <https://arxiv.org/abs/1605.07146>`_; the layer
layout follows the CIFAR model zoo used by CRD, mdistiller and WKD
(``mdistiller/models/cifar/wrn.py``): pre-activation basic blocks,
``(depth - 4) / 6`` blocks per stage, widths 16 / 16k / 32k / 64k, and a final
BN + ReLU before pooling.
"""
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_conv_layer, build_norm_layer
from mmpretrain.models.backbones.base_backbone import BaseBackbone

from mmext.registry import MODELS
from mmext.utils.validation import check_arg
from ..utils.frozen_stages import FrozenStagesMixin


class PreActBasicBlock(nn.Module):
    """BN-ReLU-conv3x3-BN-ReLU-conv3x3 with an identity or 1x1-conv shortcut.

    When the channels change, the shortcut convolution reads the
    pre-activated input (as in the benchmark code).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Stride of the first conv and of the shortcut.
        drop_rate (float): Dropout between the two convs. Defaults to 0.
        conv_cfg (dict, optional): Conv layer config.
        norm_cfg (dict): Norm layer config.
        act_cfg (dict): Activation config.

    Shapes:
        - input: ``(N, in_channels, H, W)``
        - output: ``(N, out_channels, H / stride, W / stride)``
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 drop_rate: float = 0.,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU', inplace=True)) -> None:
        super().__init__()
        self.equal_in_out = in_channels == out_channels
        self.norm1 = build_norm_layer(norm_cfg, in_channels)[1]
        self.act1 = build_activation_layer(act_cfg)
        self.conv1 = build_conv_layer(
            conv_cfg, in_channels, out_channels, 3, stride, 1, bias=False)
        self.norm2 = build_norm_layer(norm_cfg, out_channels)[1]
        self.act2 = build_activation_layer(act_cfg)
        self.conv2 = build_conv_layer(
            conv_cfg, out_channels, out_channels, 3, 1, 1, bias=False)
        self.dropout = nn.Dropout(drop_rate) if drop_rate > 0 else \
            nn.Identity()
        self.shortcut = None if self.equal_in_out else build_conv_layer(
            conv_cfg, in_channels, out_channels, 1, stride, 0, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        preact = self.act1(self.norm1(x))
        out = self.act2(self.norm2(self.conv1(preact)))
        out = self.conv2(self.dropout(out))
        identity = x if self.shortcut is None else self.shortcut(preact)
        return identity + out


@MODELS.register_module()
class CIFARWideResNet(FrozenStagesMixin, BaseBackbone):
    """WRN-depth-widen backbone for 32x32 inputs.

    Args:
        arch (str | dict): ``'wrn-40-2'``, ``'wrn-40-1'``, ``'wrn-16-2'``,
            ``'wrn-16-1'``, ``'wrn-28-10'`` or ``dict(depth=..., widen=...)``
            with ``depth = 6n + 4``.
        drop_rate (float): Dropout inside the blocks. Defaults to 0.
        out_indices (Sequence[int]): Stages (0, 1, 2) to return. The last
            stage's output is taken after the final BN + ReLU. Defaults to
            ``(2, )``.
        frozen_stages (int): Stages to freeze (-1: none; 0: the stem conv).
        conv_cfg (dict, optional): Conv layer config.
        norm_cfg (dict): Norm layer config. Defaults to BN.
        act_cfg (dict): Activation config. Defaults to ReLU.
        norm_eval (bool): Keep BN layers in eval mode. Defaults to False.
        init_cfg (dict | list[dict], optional): Initialization config.

    Shapes:
        - input: ``(N, 3, H, W)``
        - output: a tuple with, per index ``i`` in ``out_indices``, a
          ``(N, (16, 32, 64)[i] * widen, H / 2**i, W / 2**i)`` tensor.
    """

    arch_settings = {
        'wrn-16-1': dict(depth=16, widen=1),
        'wrn-16-2': dict(depth=16, widen=2),
        'wrn-40-1': dict(depth=40, widen=1),
        'wrn-40-2': dict(depth=40, widen=2),
        'wrn-28-10': dict(depth=28, widen=10),
    }

    def __init__(self,
                 arch: Union[str, dict] = 'wrn-40-2',
                 drop_rate: float = 0.,
                 out_indices: Sequence[int] = (2, ),
                 frozen_stages: int = -1,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU', inplace=True),
                 norm_eval: bool = False,
                 init_cfg: Optional[Union[dict, list]] = [
                     dict(type='Kaiming', layer=['Conv2d']),
                     dict(type='Constant', val=1, layer=['_BatchNorm'])
                 ]) -> None:
        super().__init__(init_cfg)
        check_arg(self, 'arch', arch, dict, choices=self.arch_settings)
        check_arg(self, 'drop_rate', drop_rate, float, low=0, high=1)
        check_arg(self, 'frozen_stages', frozen_stages, int, low=-1, high=3)
        if not isinstance(arch, dict):
            arch = self.arch_settings[arch]
        depth, widen = arch['depth'], arch['widen']
        assert (depth - 4) % 6 == 0, f'depth must be 6n+4, got {depth}'
        num_blocks = (depth - 4) // 6
        for i in out_indices:
            assert 0 <= i < 3, f'out_indices must be in [0, 2], got {i}'
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        channels = [16, 16 * widen, 32 * widen, 64 * widen]

        self.conv1 = build_conv_layer(
            conv_cfg, 3, channels[0], 3, 1, 1, bias=False)
        self.layers = []
        for i in range(3):
            blocks = [
                PreActBasicBlock(
                    channels[i] if j == 0 else channels[i + 1],
                    channels[i + 1],
                    stride=(1 if i == 0 else 2) if j == 0 else 1,
                    drop_rate=drop_rate,
                    conv_cfg=conv_cfg,
                    norm_cfg=norm_cfg,
                    act_cfg=act_cfg) for j in range(num_blocks)
            ]
            self.add_module(f'layer{i + 1}', nn.Sequential(*blocks))
            self.layers.append(f'layer{i + 1}')
        self.norm_out = build_norm_layer(norm_cfg, channels[3])[1]
        self.act_out = build_activation_layer(act_cfg)
        self.out_channels = channels[1:]
        self._freeze_stages()

    def _freeze_stages(self) -> None:
        stages = [[self.conv1], [self.layer1], [self.layer2],
                  [self.layer3, self.norm_out]]
        for group in stages[:self.frozen_stages + 1]:
            for m in group:
                m.eval()
                for p in m.parameters():
                    p.requires_grad = False

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        x = self.conv1(x)
        outs = []
        for i, name in enumerate(self.layers):
            x = getattr(self, name)(x)
            if i == 2:
                x = self.act_out(self.norm_out(x))
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
