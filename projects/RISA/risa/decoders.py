"""Two decoder families of the RIS generator, so that RISA's transfer
across generator architectures can be tested: AdaIN residual blocks with
nearest-neighbour upsampling (MUNIT-like) and weight-modulated
convolutions with transposed-convolution upsampling (StyleGAN2-like)."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmengine.registry import MODELS
from torch import Tensor

from mmext.utils import check_arg


def check_decoder_args(owner, in_channels: int, num_upsamples: int,
                       style_dim: int, num_blocks: int) -> None:
    """The arguments both decoders share."""
    check_arg(owner, 'in_channels', in_channels, int, low=1)
    check_arg(owner, 'num_upsamples', num_upsamples, int, low=0)
    check_arg(owner, 'style_dim', style_dim, int, low=1)
    check_arg(owner, 'num_blocks', num_blocks, int, low=1)


class AdaINResBlock(nn.Module):
    """Two 3x3 convolutions, each followed by adaptive instance
    normalisation with style-given scale and shift, and a residual
    connection: ``(N, C, h, w), (N, 4C) -> (N, C, h, w)``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    @staticmethod
    def adain(x: Tensor, scale: Tensor, shift: Tensor) -> Tensor:
        x = F.instance_norm(x)
        return x * (1 + scale[..., None, None]) + shift[..., None, None]

    def forward(self, x: Tensor, params: Tensor) -> Tensor:
        s1, b1, s2, b2 = params.chunk(4, dim=1)
        out = F.relu(self.adain(self.conv1(x), s1, b1))
        return x + self.adain(self.conv2(out), s2, b2)


@MODELS.register_module()
class RISAdaINDecoder(BaseModule):
    """AdaIN decoder: an MLP maps the style code to the scales and shifts
    of ``num_blocks`` AdaIN residual blocks; then ``num_upsamples`` x2
    nearest upsamplings with 5x5 convolutions (channels halved each time)
    and a 7x7 convolution to RGB with a sigmoid.

    Shapes: ``(N, in_channels, h, w), (N, style_dim) -> (N, 3, h *
    2^num_upsamples, w * 2^num_upsamples)``.
    """

    def __init__(self,
                 in_channels: int,
                 num_upsamples: int,
                 style_dim: int,
                 num_blocks: int = 2,
                 mlp_dim: int = 64,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        check_decoder_args(self, in_channels, num_upsamples, style_dim,
                           num_blocks)
        check_arg(self, 'mlp_dim', mlp_dim, int, low=1)
        self.mlp = nn.Sequential(
            nn.Linear(style_dim, mlp_dim), nn.ReLU(),
            nn.Linear(mlp_dim, 4 * in_channels * num_blocks))
        self.blocks = nn.ModuleList(
            AdaINResBlock(in_channels) for _ in range(num_blocks))
        ups, c = [], in_channels
        for _ in range(num_upsamples):
            ups += [
                nn.Upsample(scale_factor=2),
                ConvModule(c, c // 2, 5, padding=2)
            ]
            c //= 2
        self.upsample = nn.Sequential(*ups)
        self.to_rgb = nn.Conv2d(c, 3, 7, padding=3)

    def forward(self, content: Tensor, style: Tensor) -> Tensor:
        params = self.mlp(style).chunk(len(self.blocks), dim=1)
        x = content
        for block, p in zip(self.blocks, params):
            x = block(x, p)
        return torch.sigmoid(self.to_rgb(self.upsample(x)))


class ModulatedConv(nn.Module):
    """A convolution whose input channels are scaled by a style-given
    vector and whose output is demodulated (StyleGAN2, Karras et al.,
    2020, Eq. 1-3), as a grouped convolution over the batch:
    ``(N, Cin, h, w), (N, style_dim) -> (N, Cout, h', w')``; ``transposed``
    doubles ``h, w`` (4x4 kernel, stride 2)."""

    def __init__(self, in_channels: int, out_channels: int, style_dim: int,
                 transposed: bool = False) -> None:
        super().__init__()
        self.transposed = transposed
        k = 4 if transposed else 3
        self.weight = nn.Parameter(
            torch.randn(out_channels, in_channels, k, k) /
            (in_channels * k * k)**0.5)
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.affine = nn.Linear(style_dim, in_channels)
        nn.init.zeros_(self.affine.weight)
        nn.init.ones_(self.affine.bias)

    def forward(self, x: Tensor, style: Tensor) -> Tensor:
        n, cin, h, w = x.shape
        w_mod = self.weight[None] * self.affine(style)[:, None, :, None,
                                                       None]
        w_mod = w_mod * (w_mod.pow(2).sum((2, 3, 4), keepdim=True) +
                         1e-8).rsqrt()
        x = x.reshape(1, n * cin, h, w)
        if self.transposed:
            # conv_transpose2d weights are (Cin, Cout / groups, k, k)
            out = F.conv_transpose2d(
                x, w_mod.transpose(1, 2).reshape(n * cin, -1,
                                                 *w_mod.shape[3:]),
                stride=2, padding=1, groups=n)
        else:
            out = F.conv2d(x, w_mod.reshape(-1, cin, *w_mod.shape[3:]),
                           padding=1, groups=n)
        out = out.reshape(n, -1, *out.shape[2:])
        return out + self.bias[:, None, None]


@MODELS.register_module()
class RISModulatedDecoder(BaseModule):
    """Modulated-convolution decoder: ``num_blocks`` modulated 3x3
    convolutions, then ``num_upsamples`` modulated transposed convolutions
    (channels halved each time), all with leaky ReLUs, and a 1x1
    convolution to RGB with a sigmoid. No normalisation layer: the style
    acts only through the weights.

    Shapes: ``(N, in_channels, h, w), (N, style_dim) -> (N, 3, h *
    2^num_upsamples, w * 2^num_upsamples)``.
    """

    def __init__(self,
                 in_channels: int,
                 num_upsamples: int,
                 style_dim: int,
                 num_blocks: int = 2,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        check_decoder_args(self, in_channels, num_upsamples, style_dim,
                           num_blocks)
        layers, c = [], in_channels
        layers += [
            ModulatedConv(c, c, style_dim) for _ in range(num_blocks)
        ]
        for _ in range(num_upsamples):
            layers.append(ModulatedConv(c, c // 2, style_dim, True))
            c //= 2
        self.layers = nn.ModuleList(layers)
        self.to_rgb = nn.Conv2d(c, 3, 1)

    def forward(self, content: Tensor, style: Tensor) -> Tensor:
        x = content
        for layer in self.layers:
            x = F.leaky_relu(layer(x, style), 0.2)
        return torch.sigmoid(self.to_rgb(x))
