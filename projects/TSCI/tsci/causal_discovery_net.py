"""TSCI's causal discovery network: temporal-spatial masks of an
observation window."""
from typing import List, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmext.registry import MODELS
from mmext.utils import check_arg


@MODELS.register_module()
class CausalDiscoveryNet(BaseModule):
    """A 3D U-Net that maps ``K`` frames to ``K`` masks in ``(0, 1)``.

    The paper (Shi et al., arXiv 2112.03020) describes a separate network
    that outputs high-resolution temporal-spatial masks in one forward
    pass; its layers are not given. mmext's choice: per-frame 3x3
    convolutions (``(1, 3, 3)`` kernels) for the stem, ``num_downs``
    stride-2 downsamplings and the decoder, and ``num_temporal_blocks``
    ``(3, 3, 3)`` convolutions at the coarsest resolution that mix
    neighbouring frames, so each frame's mask sees the window around it.
    The decoder upsamples to the skip connection's size (odd sizes such as
    21 survive), and a 1x1x1 convolution with a sigmoid gives one mask per
    frame, shared by all channels of the frame.

    Args:
        in_channels (int): Channels ``C`` of one observation.
        base_channels (int): Channels of the stem; doubled per downsampling.
            Defaults to 32.
        num_downs (int): Stride-2 downsamplings (0 for MinAtar's 10x10, 2
            for Atari's 84x84). Defaults to 0.
        num_temporal_blocks (int): ``(3, 3, 3)`` convolutions. Defaults to 2.
        norm_cfg (dict, optional): Norm layer of every convolution (e.g.
            ``dict(type='BN3d')``). Defaults to None.
        act_cfg (dict): Activation. Defaults to ``dict(type='ReLU')``.
        init_cfg (dict | list[dict], optional): Initialization config.

    Shapes:
        - frames: ``(B, K, C, H, W)``
        - output: ``(B, K, H, W)`` masks in ``(0, 1)``
    """

    def __init__(self,
                 in_channels: int,
                 base_channels: int = 32,
                 num_downs: int = 0,
                 num_temporal_blocks: int = 2,
                 norm_cfg: Optional[dict] = None,
                 act_cfg: dict = dict(type='ReLU'),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        check_arg(self, 'in_channels', in_channels, int, low=1)
        check_arg(self, 'base_channels', base_channels, int, low=1)
        check_arg(self, 'num_downs', num_downs, int, low=0)
        check_arg(self, 'num_temporal_blocks', num_temporal_blocks, int,
                  low=0)
        conv = dict(conv_cfg=dict(type='Conv3d'), norm_cfg=norm_cfg,
                    act_cfg=act_cfg)
        spatial = dict(kernel_size=(1, 3, 3), padding=(0, 1, 1))
        self.stem = ConvModule(in_channels, base_channels, **spatial, **conv)
        chans = [base_channels * 2**i for i in range(num_downs + 1)]
        self.downs = nn.ModuleList(
            ConvModule(chans[i], chans[i + 1], stride=(1, 2, 2), **spatial,
                       **conv) for i in range(num_downs))
        self.temporal = nn.Sequential(*[
            ConvModule(chans[-1], chans[-1], 3, padding=1, **conv)
            for _ in range(num_temporal_blocks)
        ])
        self.ups = nn.ModuleList(
            ConvModule(chans[i + 1] + chans[i], chans[i], **spatial, **conv)
            for i in reversed(range(num_downs)))
        self.head = nn.Conv3d(base_channels, 1, 1)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = self.stem(frames.transpose(1, 2))  # (B, C', K, H, W)
        skips = []
        for down in self.downs:
            skips.append(x)
            x = down(x)
        x = self.temporal(x)
        for up in self.ups:
            skip = skips.pop()
            x = F.interpolate(x, size=skip.shape[2:], mode='nearest')
            x = up(torch.cat([x, skip], 1))
        return self.head(x).sigmoid()[:, 0]
