"""MobileNetV3-Large with a width multiplier, in the layout of
gen-efficientnet (Ross Wightman's, the library GFNet's authors build their
MobileNetV3 encoders with: ``mobilenetv3_large_100`` / ``_125``).

mmpretrain's ``MobileNetV3`` has the 1.00 model only. Widening it is not a
factor on its table: gen-efficientnet rounds each block's output width
(``make_divisible(c * widen_factor, 8)``) and derives the expanded width
from the rounded input width (``make_divisible(c_in * e, 8)``); the stem is
widened too, the 1280-wide head (the classifier's ``pre_logits`` layer) is
not. At ``widen_factor=1.0`` this is mmpretrain's ``MobileNetV3('large')``.
"""
from typing import Sequence, Tuple

from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmpretrain.models.utils import InvertedResidual, make_divisible
from torch import Tensor, nn

from mmext.registry import MODELS
from mmext.utils.validation import check_arg

__all__ = ['GenMobileNetV3']

#: gen-efficientnet's ``mobilenetv3_large`` blocks: kernel, expansion,
#: output width, squeeze-excitation, hard-swish (else ReLU), stride
LARGE = [
    (3, 1, 16, False, False, 1),
    (3, 4, 24, False, False, 2), (3, 3, 24, False, False, 1),
    (5, 3, 40, True, False, 2), (5, 3, 40, True, False, 1),
    (5, 3, 40, True, False, 1),
    (3, 6, 80, False, True, 2), (3, 2.5, 80, False, True, 1),
    (3, 2.3, 80, False, True, 1), (3, 2.3, 80, False, True, 1),
    (3, 6, 112, True, True, 1), (3, 6, 112, True, True, 1),
    (5, 6, 160, True, True, 2), (5, 6, 160, True, True, 1),
    (5, 6, 160, True, True, 1),
]


@MODELS.register_module()
class GenMobileNetV3(BaseModule):
    """MobileNetV3-Large (gen-efficientnet layout) with a width multiplier.

    Args:
        widen_factor (float): Width multiplier (authors: 1.0, 1.25).
        out_indices (Sequence[int]): Layers whose outputs are returned
            (0: stem, 1..15: blocks, 16: the last 1x1 convolution).
        norm_cfg (dict): Normalisation (default: PyTorch's BN eps, as
            gen-efficientnet's PyTorch-trained models).
        init_cfg (dict, optional): Initialisation config.

    Shapes:
        ``(N, 3, H, W)`` -> ``(N, C, H / 32, W / 32)`` from layer 16, ``C =
        make_divisible(960 * widen_factor, 8)`` (1200 at 1.25).
    """

    def __init__(self,
                 widen_factor: float = 1.0,
                 out_indices: Sequence[int] = (16, ),
                 norm_cfg: dict = dict(type='BN', eps=1e-5),
                 init_cfg=None) -> None:
        check_arg(self, 'widen_factor', widen_factor, float, low=0,
                  low_open=True)
        check_arg(self, 'out_indices', out_indices, (list, tuple))
        for index in out_indices:
            check_arg(self, 'out_indices[]', index, int, low=0,
                      high=len(LARGE) + 1)
        check_arg(self, 'norm_cfg', norm_cfg, dict)
        super().__init__(init_cfg=init_cfg)
        self.out_indices = tuple(out_indices)
        hswish, relu = dict(type='HSwish'), dict(type='ReLU')
        width = make_divisible(16 * widen_factor, 8)
        layers = [
            ConvModule(3, width, 3, stride=2, padding=1, norm_cfg=norm_cfg,
                       act_cfg=hswish)
        ]
        for kernel, expand, out, se, hs, stride in LARGE:
            out = make_divisible(out * widen_factor, 8)
            mid = make_divisible(width * expand, 8)
            se_cfg = dict(
                channels=mid, ratio=4,
                act_cfg=(relu, dict(type='HSigmoid', bias=3.0,
                                    divisor=6.0))) if se else None
            layers.append(
                InvertedResidual(width, out, mid, kernel_size=kernel,
                                 stride=stride, se_cfg=se_cfg,
                                 norm_cfg=norm_cfg,
                                 act_cfg=hswish if hs else relu))
            width = out
        layers.append(
            ConvModule(width, make_divisible(960 * widen_factor, 8), 1,
                       norm_cfg=norm_cfg, act_cfg=hswish))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
