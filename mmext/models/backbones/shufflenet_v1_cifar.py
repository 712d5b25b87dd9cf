"""ShuffleNetV1 for CIFAR, as in the KD benchmark.

`ShuffleNet <https://arxiv.org/abs/1707.01083>`_; the CIFAR layout follows
the model zoo used by CRD, mdistiller and WKD
(``mdistiller/models/cifar/ShuffleNetv1.py``): a 1x1 stem to 24 channels (no
down-sampling), three stages of 4 / 8 / 4 units with 240 / 480 / 960 output
channels, 3 groups. It differs from mmpretrain's ImageNet ``ShuffleNetV1``
(3x3 stride-2 stem, max pooling, other unit details), hence its own file.
"""
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_conv_layer, build_norm_layer
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from mmpretrain.models.utils import channel_shuffle

from mmext.registry import MODELS
from mmext.utils.validation import check_arg
from ..utils.frozen_stages import FrozenStagesMixin


class CIFARShuffleUnit(nn.Module):
    """ShuffleNetV1 unit: grouped 1x1, channel shuffle, depthwise 3x3,
    grouped 1x1; add (stride 1) or concat with a 3x3 average pool (stride 2).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Channels of the residual branch; with stride 2
            the unit outputs ``out_channels + in_channels``.
        stride (int): 1 or 2.
        groups (int): Groups of the 1x1 convs; the first 1x1 conv is not
            grouped when ``first_group_conv`` is False (the first unit after
            the 24-channel stem).
        first_group_conv (bool): Group the first 1x1 conv.
        conv_cfg (dict, optional): Conv layer config.
        norm_cfg (dict): Norm layer config.
        act_cfg (dict): Activation config.

    Shapes:
        - input: ``(N, in_channels, H, W)``
        - output: ``(N, out_channels, H, W)`` (stride 1) or
          ``(N, out_channels + in_channels, H / 2, W / 2)`` (stride 2)
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int,
                 groups: int,
                 first_group_conv: bool = True,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU')) -> None:
        super().__init__()
        assert stride in (1, 2), f'stride must be 1 or 2, got {stride}'
        self.stride = stride
        mid_channels = out_channels // 4
        self.first_groups = groups if first_group_conv else 1
        self.conv1 = build_conv_layer(
            conv_cfg, in_channels, mid_channels, 1, groups=self.first_groups,
            bias=False)
        self.norm1 = build_norm_layer(norm_cfg, mid_channels)[1]
        self.conv2 = build_conv_layer(
            conv_cfg, mid_channels, mid_channels, 3, stride, 1,
            groups=mid_channels, bias=False)
        self.norm2 = build_norm_layer(norm_cfg, mid_channels)[1]
        self.conv3 = build_conv_layer(
            conv_cfg, mid_channels, out_channels, 1, groups=groups,
            bias=False)
        self.norm3 = build_norm_layer(norm_cfg, out_channels)[1]
        self.act = build_activation_layer(act_cfg)
        self.shortcut = nn.AvgPool2d(3, stride=2, padding=1) \
            if stride == 2 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self.norm1(self.conv1(x)))
        out = channel_shuffle(out, self.first_groups)
        out = self.act(self.norm2(self.conv2(out)))
        out = self.norm3(self.conv3(out))
        res = self.shortcut(x)
        out = torch.cat([out, res], 1) if self.stride == 2 else out + res
        return self.act(out)


@MODELS.register_module()
class CIFARShuffleNetV1(FrozenStagesMixin, BaseBackbone):
    """ShuffleNetV1 (g=3) backbone for 32x32 inputs.

    Args:
        stage_channels (Sequence[int]): Output channels of the 3 stages.
            Defaults to ``(240, 480, 960)``.
        stage_blocks (Sequence[int]): Units per stage. Defaults to
            ``(4, 8, 4)``.
        groups (int): Groups of the 1x1 convs. Defaults to 3.
        stem_channels (int): Channels of the 1x1 stem. Defaults to 24.
        out_indices (Sequence[int]): Stages (0, 1, 2) to return. Defaults
            to ``(2, )``.
        frozen_stages (int): Stages to freeze (-1: none; 0: the stem).
        conv_cfg (dict, optional): Conv layer config.
        norm_cfg (dict): Norm layer config. Defaults to BN.
        act_cfg (dict): Activation config. Defaults to ReLU.
        norm_eval (bool): Keep BN layers in eval mode. Defaults to False.
        init_cfg (dict | list[dict], optional): Initialization config.

    Shapes:
        - input: ``(N, 3, H, W)``
        - output: a tuple with, per index ``i`` in ``out_indices``, a
          ``(N, stage_channels[i], H / 2**(i+1), W / 2**(i+1))`` tensor.
    """

    def __init__(self,
                 stage_channels: Sequence[int] = (240, 480, 960),
                 stage_blocks: Sequence[int] = (4, 8, 4),
                 groups: int = 3,
                 stem_channels: int = 24,
                 out_indices: Sequence[int] = (2, ),
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
        check_arg(self, 'groups', groups, int, low=1)
        check_arg(self, 'stem_channels', stem_channels, int, low=1)
        check_arg(self, 'frozen_stages', frozen_stages, int, low=-1)
        assert len(stage_channels) == len(stage_blocks), \
            'stage_channels and stage_blocks need one entry per stage'
        for i in out_indices:
            assert 0 <= i < len(stage_blocks), \
                f'out_indices must be in [0, {len(stage_blocks) - 1}], got {i}'
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.conv1 = build_conv_layer(
            conv_cfg, 3, stem_channels, 1, bias=False)
        self.norm1 = build_norm_layer(norm_cfg, stem_channels)[1]
        self.act = build_activation_layer(act_cfg)
        self.layers = []
        in_channels = stem_channels
        for i, (channels, num_units) in enumerate(
                zip(stage_channels, stage_blocks)):
            units = []
            for j in range(num_units):
                # the first unit concatenates its input: its branch only
                # produces the remaining channels
                units.append(
                    CIFARShuffleUnit(
                        in_channels,
                        channels - (in_channels if j == 0 else 0),
                        stride=2 if j == 0 else 1,
                        groups=groups,
                        first_group_conv=in_channels != stem_channels,
                        conv_cfg=conv_cfg,
                        norm_cfg=norm_cfg,
                        act_cfg=act_cfg))
                in_channels = channels
            self.add_module(f'layer{i + 1}', nn.Sequential(*units))
            self.layers.append(f'layer{i + 1}')
        self._freeze_stages()

    def _freeze_stages(self) -> None:
        stages = [[self.conv1, self.norm1]] + [[getattr(self, n)]
                                                for n in self.layers]
        for group in stages[:self.frozen_stages + 1]:
            for m in group:
                m.eval()
                for p in m.parameters():
                    p.requires_grad = False

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        x = self.act(self.norm1(self.conv1(x)))
        outs = []
        for i, name in enumerate(self.layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
