"""Projector from student to teacher feature space for feature distillation."""
from typing import Optional, Union

import torch
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule

from mmext.registry import MODELS
from mmext.utils.validation import check_arg


@MODELS.register_module()
class ConvConnector(BaseModule):
    """Conv (+ norm + activation) mapping student features to the teacher's
    channels, e.g. the 1x1 conv + BN + ReLU projector of WKD-F / FitNet.

    Args:
        in_channels (int): Student channels.
        out_channels (int): Teacher channels.
        kernel_size (int): Conv kernel size. Defaults to 1.
        stride (int): Conv stride (2 when the student map is twice the
            teacher's size). Defaults to 1.
        norm_cfg (dict, optional): Norm config; ``None`` for none.
            Defaults to BN.
        act_cfg (dict, optional): Activation config; ``None`` for none.
            Defaults to ReLU.
        init_cfg (dict | list[dict], optional): Initialization config.

    Shapes:
        - input: ``(N, in_channels, H, W)``
        - output: ``(N, out_channels, H / stride, W / stride)``
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int = 1,
                 stride: int = 1,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='ReLU'),
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg)
        for name, value in dict(in_channels=in_channels,
                                out_channels=out_channels,
                                kernel_size=kernel_size,
                                stride=stride).items():
            check_arg(self, name, value, int, low=1)
        self.conv = ConvModule(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg)

    def init_weights(self) -> None:
        """ConvModule's own initialization (Kaiming conv, unit norm) first,
        then ``init_cfg`` on top of it.

        mmengine initializes children after the parent's ``init_cfg``, and
        ``ConvModule.init_weights`` always re-initializes its conv, which
        would silently undo ``init_cfg``.
        """
        self.conv.init_weights()
        self.conv.is_init = True
        super().init_weights()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)
