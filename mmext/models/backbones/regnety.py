"""RegNetY (Radosavovic et al., "Designing Network Design Spaces", CVPR
2020): RegNetX with squeeze-excitation in every block.

mmpretrain's ``RegNet`` builds RegNetX only. GFNet's RegNet encoders are the
pycls RegNetY models its authors ship (``pycls/models/anynet.py``): in each
bottleneck, after the grouped 3x3 convolution, BN and ReLU, a
squeeze-excitation (average pool, 1x1 conv to ``round(0.25 * w_in)``
channels with bias, ReLU, 1x1 conv back with bias, sigmoid) with ``w_in``
the block's input width; everything else is RegNetX. The variants are
pycls' configs (``RegNetY-600MF_dds_8gpu.yaml`` etc.).
"""
import torch.utils.checkpoint as cp
from mmpretrain.models.backbones.regnet import RegNet
from mmpretrain.models.backbones.resnet import ResLayer
from mmpretrain.models.backbones.resnext import Bottleneck
from torch import Tensor, nn

from mmext.registry import MODELS
from mmext.utils.validation import check_arg

__all__ = ['RegNetY']


class SEBottleneck(Bottleneck):
    """RegNet's grouped bottleneck with pycls' squeeze-excitation.

    Args:
        in_channels (int): ``w_in``.
        out_channels (int): ``w_out``.
        se_ratio (float): SE width as a fraction of ``w_in``.
        **kwargs: mmpretrain ResNeXt ``Bottleneck`` arguments.

    Shapes:
        ``(N, w_in, H, W)`` -> ``(N, w_out, H / stride, W / stride)``.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 se_ratio: float = 0.25, **kwargs) -> None:
        super().__init__(in_channels, out_channels, **kwargs)
        se_channels = int(round(in_channels * se_ratio))
        self.se = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(self.mid_channels, se_channels, 1), nn.ReLU(),
            nn.Conv2d(se_channels, self.mid_channels, 1), nn.Sigmoid())

    def forward(self, x: Tensor) -> Tensor:

        def residual(x: Tensor) -> Tensor:
            out = self.relu(self.norm1(self.conv1(x)))
            out = self.relu(self.norm2(self.conv2(out)))
            out = self.norm3(self.conv3(out * self.se(out)))
            identity = x if self.downsample is None else self.downsample(x)
            return self.drop_path(out) + identity

        if self.with_cp and x.requires_grad:
            return self.relu(cp.checkpoint(residual, x, use_reentrant=False))
        return self.relu(residual(x))


@MODELS.register_module()
class RegNetY(RegNet):
    """RegNetY backbone (pycls layout).

    Args:
        arch (str | dict): ``'regnety_600mf'``, ``'regnety_800mf'``,
            ``'regnety_1.6gf'`` or a dict of ``w0, wa, wm, group_w, depth,
            bot_mul``.
        se_ratio (float): SE width as a fraction of the block's input width.
        **kwargs: mmpretrain ``RegNet`` arguments (``out_indices``,
            ``frozen_stages``, ``norm_cfg``...).

    Shapes:
        ``(N, 3, H, W)`` -> the stages of ``out_indices``, the last
        ``(N, C, H / 32, W / 32)`` (C = 608 / 768 / 888).
    """
    arch_settings = {
        'regnety_600mf':
        dict(w0=48, wa=32.54, wm=2.32, group_w=16, depth=15, bot_mul=1.0),
        'regnety_800mf':
        dict(w0=56, wa=38.84, wm=2.4, group_w=16, depth=14, bot_mul=1.0),
        'regnety_1.6gf':
        dict(w0=48, wa=20.71, wm=2.65, group_w=24, depth=27, bot_mul=1.0),
    }

    def __init__(self, arch: str = 'regnety_600mf', se_ratio: float = 0.25,
                 **kwargs) -> None:
        check_arg(self, 'arch', arch, dict, choices=tuple(self.arch_settings))
        check_arg(self, 'se_ratio', se_ratio, float, low=0, low_open=True)
        self.se_ratio = se_ratio
        super().__init__(arch, **kwargs)

    def make_res_layer(self, **kwargs) -> ResLayer:
        kwargs['block'] = SEBottleneck
        kwargs['se_ratio'] = self.se_ratio
        return ResLayer(**kwargs)
