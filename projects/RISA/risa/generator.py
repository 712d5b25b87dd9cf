"""The reference-guided synthesis (RIS) model whose training RISA
observes: a content encoder, a style encoder and a decoder that renders
the content in the reference's style (MUNIT/AdaIN-style, small enough to
train on a CPU)."""
from typing import Dict, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModel, BaseModule
from mmengine.registry import MODELS
from torch import Tensor

from mmext.utils import check_arg


def channel_stats(x: Tensor, eps: float = 1e-5):
    """Channel-wise mean and standard deviation ``(N, C)`` of
    ``(N, C, H, W)`` features."""
    return x.mean((2, 3)), (x.var((2, 3), unbiased=False) + eps).sqrt()


def conv_stack(channels: Sequence[int], norm_cfg: Optional[dict]):
    """``3 -> channels[0]`` at full resolution, then one stride-2 convolution
    per further entry: ``(N, 3, H, W) -> (N, channels[-1], H / 2^(S-1),
    W / 2^(S-1))`` with ``S = len(channels)``."""
    layers = [ConvModule(3, channels[0], 3, padding=1, norm_cfg=norm_cfg)]
    layers += [
        ConvModule(cin, cout, 4, stride=2, padding=1, norm_cfg=norm_cfg)
        for cin, cout in zip(channels[:-1], channels[1:])
    ]
    return nn.Sequential(*layers)


@MODELS.register_module()
class RISContentEncoder(BaseModule):
    """Instance-normalised convolutions (normalisation removes the source's
    own style): ``(N, 3, H, W) -> (N, channels[-1], h, w)``, ``h = H /
    2^(len(channels) - 1)``."""

    def __init__(self,
                 channels: Sequence[int] = (16, 32, 64),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        check_arg(self, 'channels', channels, (list, tuple))
        self.convs = conv_stack(channels, dict(type='IN'))

    def forward(self, x: Tensor) -> Tensor:
        return self.convs(x)


@MODELS.register_module()
class RISStyleEncoder(BaseModule):
    """Convolutions without normalisation (which would remove the style),
    global average pooling and a linear layer: ``(N, 3, H, W) -> (N,
    style_dim)``."""

    def __init__(self,
                 channels: Sequence[int] = (16, 32, 64),
                 style_dim: int = 32,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        check_arg(self, 'channels', channels, (list, tuple))
        check_arg(self, 'style_dim', style_dim, int, low=1)
        self.convs = conv_stack(channels, None)
        self.fc = nn.Linear(channels[-1], style_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.convs(x).mean((2, 3)))


class FrozenStatsNet(nn.Module):
    """A frozen, randomly initialised CNN whose features give the
    generator's content and style losses: no pretrained VGG can be
    downloaded, and statistics of random convolutional features already
    characterise textures (Ustyuzhaninov et al., 2017).

    ``(N, 3, H, W)`` -> list of the image and each ReLU stage's features.
    """

    def __init__(self, channels: Sequence[int], seed: int) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.convs = nn.ModuleList()
        for i, (cin, cout) in enumerate(zip((3, ) + tuple(channels),
                                            channels)):
            conv = nn.Conv2d(cin, cout, 3, stride=1 if i == 0 else 2,
                             padding=1)
            with torch.no_grad():
                conv.weight.normal_(0, (2 / (cin * 9))**0.5, generator=gen)
                conv.bias.zero_()
            self.convs.append(conv)
        self.requires_grad_(False)

    def forward(self, x: Tensor):
        feats = [x]
        for conv in self.convs:
            feats.append(F.relu(conv(feats[-1])))
        return feats


@MODELS.register_module()
class RISGenerator(BaseModel):
    """Reference-guided synthesis: ``decoder(content_encoder(source),
    style_encoder(reference))``.

    Losses (``mode='loss'``), on the features of a frozen random CNN
    (:class:`FrozenStatsNet`, its first "feature" being the image):

    - ``loss_content``: mean squared difference of the deepest features
      of the output and the source;
    - ``loss_style``: mean squared difference of the channel means and
      standard deviations of every stage (image included) of the output
      and the reference (the AdaIN style loss, Huang & Belongie, 2017).

    Args:
        content_encoder (dict): Config of the content encoder.
        style_encoder (dict): Config of the style encoder.
        decoder (dict): Config of the decoder (``RISAdaINDecoder`` or
            ``RISModulatedDecoder``); gets ``in_channels`` and
            ``style_dim`` from the encoders' configs.
        loss_channels (Sequence[int]): Stages of the frozen loss network.
            Defaults to (16, 32, 64).
        loss_seed (int): Seed of the frozen loss network's weights.
            Defaults to 0.
        content_weight (float): Weight of the content loss. Defaults to 1.
        style_weight (float): Weight of the style loss. Defaults to 5.
        data_preprocessor (dict, optional): Defaults to mmengine's
            ``BaseDataPreprocessor``.
        init_cfg (dict, optional): Initialisation config.

    Shapes:
        - content, style: ``(N, 3, H, W)`` in ``[0, 1]``
        - output (``mode='tensor'``): ``(N, 3, H, W)`` in ``[0, 1]``
    """

    def __init__(self,
                 content_encoder: dict,
                 style_encoder: dict,
                 decoder: dict,
                 loss_channels: Sequence[int] = (16, 32, 64),
                 loss_seed: int = 0,
                 content_weight: float = 1.0,
                 style_weight: float = 5.0,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        for name, value in (('content_encoder', content_encoder),
                            ('style_encoder', style_encoder),
                            ('decoder', decoder)):
            check_arg(self, name, value, dict)
        check_arg(self, 'content_weight', content_weight, float, low=0)
        check_arg(self, 'style_weight', style_weight, float, low=0)
        self.content_encoder = MODELS.build(content_encoder)
        self.style_encoder = MODELS.build(style_encoder)
        channels = content_encoder.get('channels', (16, 32, 64))
        decoder = dict(in_channels=channels[-1],
                       num_upsamples=len(channels) - 1,
                       style_dim=style_encoder.get('style_dim', 32),
                       **decoder)
        self.decoder = MODELS.build(decoder)
        self.loss_net = FrozenStatsNet(loss_channels, loss_seed)
        self.content_weight = content_weight
        self.style_weight = style_weight

    def forward(self,
                content: Tensor,
                style: Tensor,
                mode: str = 'tensor') -> Union[Tensor, Dict[str, Tensor]]:
        out = self.decoder(self.content_encoder(content),
                           self.style_encoder(style))
        if mode == 'tensor':
            return out
        if mode == 'loss':
            return self.loss(out, content, style)
        raise ValueError(f'{type(self).__name__}: unknown mode {mode!r} '
                         "(expected 'tensor' or 'loss')")

    def loss(self, out: Tensor, content: Tensor,
             style: Tensor) -> Dict[str, Tensor]:
        """Content and style losses of outputs ``(N, 3, H, W)``."""
        f_out, f_content, f_style = (self.loss_net(x)
                                     for x in (out, content, style))
        loss_content = F.mse_loss(f_out[-1], f_content[-1])
        loss_style = sum(
            F.mse_loss(a, b) for fo, fs in zip(f_out, f_style)
            for a, b in zip(channel_stats(fo), channel_stats(fs)))
        return dict(loss_content=self.content_weight * loss_content,
                    loss_style=self.style_weight * loss_style)
