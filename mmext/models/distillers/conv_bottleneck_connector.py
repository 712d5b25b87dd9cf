"""Bottleneck projector from student to teacher feature space (WKD-F)."""
from typing import Optional, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmengine.model import BaseModule

from mmext.registry import MODELS
from mmext.utils.validation import check_arg


@MODELS.register_module()
class ConvBottleneckConnector(BaseModule):
    """1x1 conv to ``hidden_channels``, 3x3 conv, 1x1 conv to the teacher's
    channels, then norm + activation: the "bottleneck" projector that WKD-F
    uses by default on ImageNet (``ConvRegBottleNeck`` of the authors' code).

    As in the authors' module, the three convs all have a bias and nothing
    non-linear between them; only the last one is followed by norm and
    activation. Student and teacher maps must have the same spatial size.
    The layers are plain ``nn.Conv2d`` (not ``ConvModule``, whose own
    ``init_weights`` would override ``init_cfg``), so without ``init_cfg``
    they keep PyTorch's default initialization, as the authors' do; the
    names ``conv1``/``conv2``/``conv3``/``norm`` map one to one to the
    authors' ``conv1``/``conv2``/``conv3``/``bn``.
    With the defaults it has ``in * h + h + 9 * h * h + h + h * out + out +
    2 * out`` parameters (``h = hidden_channels``), e.g. 854,016 for
    512 -> 512 (ResNet-18 -> ResNet-34) and 1,382,912 for 1024 -> 2048
    (MobileNetV1 -> ResNet-50).

    Args:
        in_channels (int): Student channels.
        out_channels (int): Teacher channels.
        hidden_channels (int): Channels of the two inner convs.
            Defaults to 256 (the authors' ``c_hidden``).
        norm_cfg (dict, optional): Norm config after the last conv;
            ``None`` for none. Defaults to BN.
        act_cfg (dict, optional): Activation config after the norm;
            ``None`` for none. Defaults to ReLU.
        init_cfg (dict | list[dict], optional): Initialization config.

    Shapes:
        - input: ``(N, in_channels, H, W)``
        - output: ``(N, out_channels, H, W)``
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 hidden_channels: int = 256,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='ReLU'),
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg)
        for name, value in dict(in_channels=in_channels,
                                out_channels=out_channels,
                                hidden_channels=hidden_channels).items():
            check_arg(self, name, value, int, low=1)
        self.conv1 = nn.Conv2d(in_channels, hidden_channels, 1)
        self.conv2 = nn.Conv2d(hidden_channels, hidden_channels, 3, padding=1)
        # bias before the norm kept: the authors' conv has one
        self.conv3 = nn.Conv2d(hidden_channels, out_channels, 1)
        self.norm = nn.Identity() if norm_cfg is None else \
            build_norm_layer(norm_cfg, out_channels)[1]
        self.act = nn.Identity() if act_cfg is None else \
            build_activation_layer(act_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv3(self.conv2(self.conv1(x)))))
