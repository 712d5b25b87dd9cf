"""MLKP: multi-scale location-aware kernel representation (Wang et al.,
"Multi-scale Location-aware Kernel Representation for Object Detection",
CVPR 2018), as a neck for mmdet's two-stage detectors.

The layers follow the authors' Caffe prototxts (``models/VGG16/*.prototxt``,
``models/ResNet/*.prototxt``); the names in brackets below are theirs.
"""
import math
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmext.registry import MODELS
from mmext.utils.validation import check_arg


def _conv1x1(in_channels: int, out_channels: int, bias: bool = False,
             stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=bias)


@MODELS.register_module()
class MLKPNeck(BaseModule):
    """Multi-scale fusion, location weight and polynomial kernel terms.

    Inputs are four maps from the backbone: a *shallow* pair at stride ``s``
    (VGG16: ``conv4_2``, ``conv4_3``; ResNet-101: ``res3b2``, ``res3b3``) and
    a *deep* pair at stride ``2s`` (``conv5_2``, ``conv5_3``; ``res4b21``,
    ``res4b22``). The neck computes

    1. ``x = relu(T_s(fuse(shallow))) + up(relu(T_d(fuse(deep))))``
       (``conv_T4`` / ``conv_T5`` and the ``de-conv``; ``sum_54``),
       ``(N, fusion_channels, H, W)`` at stride ``s``;
    2. the location weight ``m = sigmoid(c3(relu(c2(relu(c1(x))))))``, one
       map ``(N, 1, H, W)`` shared by all channels (``la_ch_1_{a,b,c}``);
    3. for each order ``r`` (2 and 3) the kernel term
       ``prod_i B_{r,i}(A_{r,i} x)`` of 1x1 convs without bias and without a
       non-linearity between them (``concat_*_{a,b}``), i.e. per output
       channel ``k`` the rank-one polynomial kernel
       ``<w_{r,1,k} (x) ... (x) w_{r,r,k}, x^(x)r>`` (paper Eq. 5-7);
    4. ``relu(conv1x1_stride2(cat(x, m * z_2, m * z_3)))`` (``final_out``),
       ``(N, out_channels, ceil(H / 2), ceil(W / 2))`` at stride ``2s``.

    A 1x1 convolution with stride 2 reads only the even positions. With
    ``even_positions=True`` (default) the kernel terms and the output are
    computed at those positions only, which gives the same output with
    about a quarter of the kernel-branch work; the location weight still
    sees all positions through its 3x3 conv. The output convolution is
    applied per group (``W_1 x + m * (W_2 z_2 + W_3 z_3)``, which equals the
    convolution of the concatenation because ``m`` is one number per
    position) so the ``(N, 7168, H, W)`` concatenation is never formed.

    Modes:

    - ``'faithful'``: the released prototxt. The deep map is upsampled by the
      1x1 stride-2 deconvolution (zeros at odd positions) and cropped to the
      shallow size; the shallow conv is initialised to zero (HEAD
      ``train.prototxt``), which with the following ReLU keeps its gradient
      at exactly zero, so the shallow features never contribute. Caffe's
      Crop fails when the deconvolved map (``2 * h - 1``) is smaller than the
      shallow map (even stride-8 sizes); here that row/column is zero, the
      natural continuation of the zero insertion.
    - ``'fixed'`` (default): the deep map is bilinearly interpolated to the
      shallow size before the same 1x1 (then stride-1) layer (computed
      before the interpolation, with which it commutes), and the
      shallow conv gets Caffe's xavier initialisation like every other
      layer, so it trains. Both modes have the same parameters.

    Args:
        in_channels: Channels of the four inputs (shallow pair, deep pair).
        shallow_fusion: ``'concat'`` or ``'sum'`` for the shallow pair.
        deep_fusion: ``'concat'`` (VGG16) or ``'sum'`` (ResNet-101).
        fusion_channels: Channels of the fused map ``x`` (1024).
        kernel_channels: Output channels per kernel order, orders 2, 3, ...
            in turn (``(2048, 4096)``).
        proj_channels: Width of the first 1x1 conv of each branch (256).
        out_channels: Channels of the output map (VGG16: 512, ResNet: 1024).
        out_bias: Whether the output conv has a bias (VGG16 yes, ResNet no).
        last_proj_bias: Whether the last branch's first conv of the highest
            order has a bias (the ResNet-101 prototxt's ``concat_5_a``).
        mode: ``'fixed'`` or ``'faithful'``.
        even_positions: Compute kernel terms only where the output reads.
        init_cfg: mmengine init config; without one, every conv gets Caffe's
            xavier filler (uniform, bound ``sqrt(3 / fan_in)``), except the
            shallow conv in ``'faithful'`` mode (zeros).
    """

    MODES = ('fixed', 'faithful')
    FUSIONS = ('concat', 'sum')

    def __init__(self,
                 in_channels: Sequence[int] = (512, 512, 512, 512),
                 shallow_fusion: str = 'concat',
                 deep_fusion: str = 'concat',
                 fusion_channels: int = 1024,
                 kernel_channels: Sequence[int] = (2048, 4096),
                 proj_channels: int = 256,
                 out_channels: int = 512,
                 out_bias: bool = True,
                 last_proj_bias: bool = False,
                 mode: str = 'fixed',
                 even_positions: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        check_arg(self, 'mode', mode, choices=self.MODES)
        check_arg(self, 'shallow_fusion', shallow_fusion, choices=self.FUSIONS)
        check_arg(self, 'deep_fusion', deep_fusion, choices=self.FUSIONS)
        check_arg(self, 'in_channels', in_channels, (tuple, list))
        if len(in_channels) != 4:
            raise ValueError(
                'MLKPNeck: in_channels must give the channels of 4 inputs '
                '(shallow pair, deep pair), got '
                f'{len(in_channels)}: {in_channels}')
        for name, value in (('fusion_channels', fusion_channels),
                            ('proj_channels', proj_channels),
                            ('out_channels', out_channels)):
            check_arg(self, name, value, int, low=1)
        check_arg(self, 'kernel_channels', kernel_channels, (tuple, list))
        for value in kernel_channels:
            check_arg(self, 'kernel_channels', value, int, low=1)
        for name, value in (('out_bias', out_bias),
                            ('last_proj_bias', last_proj_bias),
                            ('even_positions', even_positions)):
            check_arg(self, name, value, bool)
        for pair, fusion, name in ((in_channels[:2], shallow_fusion,
                                    'shallow'), (in_channels[2:], deep_fusion,
                                                 'deep')):
            if fusion == 'sum' and pair[0] != pair[1]:
                raise ValueError(
                    f"MLKPNeck: {name}_fusion='sum' needs equal channels, "
                    f'got in_channels {tuple(pair)}')
        self.mode = mode
        self.shallow_fusion = shallow_fusion
        self.deep_fusion = deep_fusion
        self.even_positions = even_positions

        def fused(pair, fusion):
            return pair[0] + pair[1] if fusion == 'concat' else pair[0]

        self.shallow_conv = _conv1x1(
            fused(in_channels[:2], shallow_fusion), fusion_channels)
        self.deep_conv = _conv1x1(
            fused(in_channels[2:], deep_fusion), fusion_channels)
        self.deep_up = nn.ConvTranspose2d(
            fusion_channels,
            fusion_channels,
            1,
            stride=2 if mode == 'faithful' else 1,
            bias=False)
        self.loc_reduce = _conv1x1(fusion_channels, 1)
        self.loc_conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
        self.loc_out = _conv1x1(1, 1)
        self.kernels = nn.ModuleList()
        for order, channels in enumerate(kernel_channels, start=2):
            branches = nn.ModuleList()
            for i in range(order):
                bias = (last_proj_bias and order == len(kernel_channels) + 1
                        and i == order - 1)
                branches.append(
                    nn.Sequential(
                        _conv1x1(fusion_channels, proj_channels, bias=bias),
                        _conv1x1(proj_channels, channels)))
            self.kernels.append(branches)
        self.out_conv = _conv1x1(
            fusion_channels + sum(kernel_channels),
            out_channels,
            bias=out_bias,
            stride=2)

    def init_weights(self) -> None:
        """Caffe's xavier filler; zeros for the faithful shallow conv."""
        if self.init_cfg is not None:
            super().init_weights()
            return
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                fan_in = m.weight[0].numel() if isinstance(
                    m, nn.Conv2d) else m.weight[:, 0].numel()
                bound = math.sqrt(3.0 / fan_in)
                nn.init.uniform_(m.weight, -bound, bound)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        if self.mode == 'faithful':
            nn.init.zeros_(self.shallow_conv.weight)

    def _fuse(self, a: Tensor, b: Tensor, fusion: str) -> Tensor:
        return torch.cat((a, b), dim=1) if fusion == 'concat' else a + b

    def fuse_scales(self, inputs: Sequence[Tensor]) -> Tensor:
        """Four backbone maps -> the fused map ``x`` ``(N, C_f, H, W)`` at
        the shallow stride (``sum_54`` / ``sum_43``)."""
        if len(inputs) != 4:
            raise ValueError('MLKPNeck expects 4 backbone outputs (shallow '
                             f'pair, deep pair), got {len(inputs)}')
        shallow = F.relu(
            self.shallow_conv(
                self._fuse(inputs[0], inputs[1], self.shallow_fusion)))
        deep = F.relu(
            self.deep_conv(self._fuse(inputs[2], inputs[3],
                                      self.deep_fusion)))
        h, w = shallow.shape[-2:]
        if self.mode == 'faithful':
            deep = F.relu(self.deep_up(deep))[..., :h, :w]
            deep = F.pad(deep, (0, w - deep.shape[-1], 0, h - deep.shape[-2]))
        else:
            # the 1x1 layer commutes with the interpolation: apply it on the
            # 4x smaller map
            deep = F.interpolate(
                self.deep_up(deep),
                size=(h, w),
                mode='bilinear',
                align_corners=False)
            deep = F.relu(deep)
        return shallow + deep

    def location_weight(self, x: Tensor) -> Tensor:
        """``(N, C_f, H, W)`` -> ``(N, 1, H, W)`` in (0, 1)."""
        m = F.relu(self.loc_reduce(x))
        m = F.relu(self.loc_conv(m))
        return torch.sigmoid(self.loc_out(m))

    def kernel_terms(self, x: Tensor) -> List[Tensor]:
        """``(N, C_f, H, W)`` -> per order ``r`` the product of its ``r``
        branches, ``(N, kernel_channels[r - 2], H, W)`` (no location
        weight).

        The 1x1 convolutions run as matrix products on ``(N, C, H * W)``;
        the first layers of all branches as one product.
        """
        n, _, h, w = x.shape
        flat = x.reshape(n, x.shape[1], h * w)
        firsts = [b[0] for branches in self.kernels for b in branches]
        weight = torch.cat([conv.weight[:, :, 0, 0] for conv in firsts])
        projected = torch.matmul(weight, flat).split(
            [conv.out_channels for conv in firsts], dim=1)
        terms, k = [], 0
        for branches in self.kernels:
            term = None
            for branch in branches:
                a = projected[k]
                if branch[0].bias is not None:
                    a = a + branch[0].bias[:, None]
                b = torch.matmul(branch[1].weight[:, :, 0, 0], a)
                term = b if term is None else term * b
                k += 1
            terms.append(term.view(n, -1, h, w))
        return terms

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor]:
        """Backbone maps -> ``(out,)`` with ``out`` of shape
        ``(N, out_channels, ceil(H / 2), ceil(W / 2))``."""
        x = self.fuse_scales(inputs)
        m = self.location_weight(x)
        if not self.even_positions:
            # the prototxt's computation: tile, concatenate, strided conv
            feats = [x] + [m * term for term in self.kernel_terms(x)]
            return (F.relu(self.out_conv(torch.cat(feats, dim=1))), )
        x, m = x[..., ::2, ::2], m[..., ::2, ::2]
        n, c, h, w = x.shape
        # out_conv(cat(x, m * z_2, m * z_3)) by weight groups, as matrix
        # products on (N, C, h * w)
        weight = self.out_conv.weight[:, :, 0, 0]
        out = torch.matmul(weight[:, :c], x.reshape(n, c, h * w))
        kernel_out = None
        for term in self.kernel_terms(x):
            part = torch.matmul(weight[:, c:c + term.shape[1]],
                                term.flatten(2))
            kernel_out = part if kernel_out is None else kernel_out + part
            c += term.shape[1]
        if kernel_out is not None:
            out = out + m.flatten(2) * kernel_out
        if self.out_conv.bias is not None:
            out = out + self.out_conv.bias[:, None]
        return (F.relu(out.view(n, -1, h, w)), )
