"""Pre-activation ResNet as in MXNet's model zoo (He et al., ECCV 2016).

`Identity Mappings in Deep Residual Networks
<https://arxiv.org/abs/1603.05027>`_. The layout is that of MXNet's
ImageNet-11K/1K ResNet-152, which the TCP authors port to PyTorch
(``ops/torchvision/preact_resnet.py``) as the backbone of TCP-TSN-R152:
a BN on the raw 0-255 input (``bn_data``), a 7x7 stem, bottlenecks
``BN-ReLU-conv1x1 / BN-ReLU-conv3x3 (stride) / BN-ReLU-conv1x1`` whose
projection shortcut is a bare strided 1x1 conv on the pre-activated input,
and a final BN-ReLU after the last stage. All BNs have eps 2e-5 (MXNet's).
Parameter names are the authors', so their checkpoints load with the
``module.base_model.`` prefix removed.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from torch import Tensor

from mmext.registry import MODELS
from mmext.utils.validation import ArgumentError, check_arg

from ..utils.frozen_stages import FrozenStagesMixin


class PreActBottleneck(BaseModule):
    """Pre-activation bottleneck with the stride on the 3x3 conv.

    ``out = conv3(relu(bn3(conv2(relu(bn2(conv1(a))))))) + shortcut``,
    ``a = relu(bn1(x))``; the shortcut is ``downsample(a)`` (a 1x1 conv)
    when the shape changes, else ``x``.

    Args:
        in_channels (int): Input channels.
        planes (int): Bottleneck width; the output has ``4 * planes``.
        stride (int): Stride of the 3x3 conv and the shortcut.
        norm_cfg (dict): Norm layers.

    Shapes:
        - input: ``(N, in_channels, H, W)``
        - output: ``(N, 4 * planes, H / stride, W / stride)``
    """
    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1,
                 norm_cfg: Dict = dict(type='BN', eps=2e-5)) -> None:
        super().__init__()
        out_channels = planes * self.expansion
        self.bn1 = build_norm_layer(norm_cfg, in_channels)[1]
        self.conv1 = nn.Conv2d(in_channels, planes, 1, bias=False)
        self.bn2 = build_norm_layer(norm_cfg, planes)[1]
        self.conv2 = nn.Conv2d(
            planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn3 = build_norm_layer(norm_cfg, planes)[1]
        self.conv3 = nn.Conv2d(planes, out_channels, 1, bias=False)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            # nn.Sequential keeps the authors' key ``downsample.0.weight``
            self.downsample = nn.Sequential(
                nn.Conv2d(
                    in_channels, out_channels, 1, stride=stride, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        act = self.relu(self.bn1(x))
        shortcut = x if self.downsample is None else self.downsample(act)
        out = self.conv1(act)
        out = self.conv2(self.relu(self.bn2(out)))
        out = self.conv3(self.relu(self.bn3(out)))
        return out + shortcut


@MODELS.register_module()
class PreActResNet(FrozenStagesMixin, BaseBackbone):
    """Pre-activation ResNet (MXNet model-zoo layout).

    Args:
        depth (int): 50, 101 or 152. Defaults to 152.
        strides (Sequence[int]): Stride of each stage. Defaults to
            ``(1, 2, 2, 1)``, the last stage at stride 1 as TCP's (output
            stride 16); ``(1, 2, 2, 2)`` is the ImageNet classifier's.
        out_indices (Sequence[int]): Stages to output; the last one is
            post-activated (final BN + ReLU). Defaults to ``(3, )``.
        input_norm (bool): The BN on the raw input (``bn_data``). Defaults
            to True.
        frozen_stages (int): Stages (from the stem, 0) in eval mode without
            gradients; -1 freezes none. Defaults to -1.
        norm_cfg (dict): Norm layers. Defaults to BN with eps 2e-5.
        norm_eval (bool): Keep every BN in eval mode. Defaults to False.
        init_cfg (dict or list[dict], optional): Initialization config;
            defaults to Kaiming fan-out convs and unit BNs (the authors').

    Shapes:
        - input: ``(N, 3, H, W)``, raw 0-255 pixels with ``input_norm``
        - output: a tuple of ``(N, 256 * 2^i, H / s_i, W / s_i)`` for ``i``
          in ``out_indices`` (``(N, 2048, H / 16, W / 16)`` by default)
    """
    arch_settings = {
        50: (3, 4, 6, 3),
        101: (3, 4, 23, 3),
        152: (3, 8, 36, 3),
    }

    def __init__(self,
                 depth: int = 152,
                 strides: Sequence[int] = (1, 2, 2, 1),
                 out_indices: Sequence[int] = (3, ),
                 input_norm: bool = True,
                 frozen_stages: int = -1,
                 norm_cfg: Dict = dict(type='BN', eps=2e-5),
                 norm_eval: bool = False,
                 init_cfg: Optional[Union[Dict, Sequence[Dict]]] = [
                     dict(type='Kaiming', layer='Conv2d', mode='fan_out',
                          nonlinearity='relu'),
                     dict(type='Constant', val=1, layer='_BatchNorm')
                 ]) -> None:
        super().__init__(init_cfg=init_cfg)
        check_arg(self, 'depth', depth, choices=tuple(self.arch_settings))
        check_arg(self, 'frozen_stages', frozen_stages, int, low=-1, high=4)
        check_arg(self, 'input_norm', input_norm, bool)
        check_arg(self, 'norm_eval', norm_eval, bool)
        if not isinstance(strides, (tuple, list)) or len(strides) != 4 or \
                not all(isinstance(s, int) and s >= 1 for s in strides):
            raise ArgumentError(
                f'{type(self).__name__}: strides={strides!r} '
                f'({type(strides).__name__}) is invalid; expected a sequence '
                'of 4 ints >= 1')
        for i in out_indices:
            check_arg(self, 'out_indices', i, int, low=0, high=3)
        self.depth = depth
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.bn_data = build_norm_layer(norm_cfg, 3)[1] if input_norm \
            else None
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = build_norm_layer(norm_cfg, 64)[1]
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        in_channels = 64
        for i, (blocks, stride) in enumerate(
                zip(self.arch_settings[depth], strides)):
            planes = 64 * 2**i
            layers = []
            for b in range(blocks):
                layers.append(
                    PreActBottleneck(in_channels, planes,
                                     stride if b == 0 else 1, norm_cfg))
                in_channels = planes * PreActBottleneck.expansion
            self.add_module(f'layer{i + 1}', nn.Sequential(*layers))
        self.bn2 = build_norm_layer(norm_cfg, in_channels)[1]
        self._freeze_stages()

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        stem = [self.conv1, self.bn1]
        if self.bn_data is not None:
            stem.append(self.bn_data)
        stages = [stem] + [[getattr(self, f'layer{i}')]
                           for i in range(1, self.frozen_stages + 1)]
        for modules in stages[:self.frozen_stages + 1]:
            for m in modules:
                m.eval()
                for p in m.parameters():
                    p.requires_grad = False

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        if self.bn_data is not None:
            x = self.bn_data(x)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        outs = []
        for i in range(4):
            x = getattr(self, f'layer{i + 1}')(x)
            if i in self.out_indices:
                outs.append(self.relu(self.bn2(x)) if i == 3 else x)
        return tuple(outs)
