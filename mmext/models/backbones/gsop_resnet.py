"""GSoP-ResNet (Gao et al., CVPR 2019), on top of mmpretrain's ResNet.

`Global Second-order Pooling Convolutional Networks
<https://arxiv.org/abs/1811.12006>`_; authors' code:
ZilinGao/Global-Second-order-Pooling-Convolutional-Networks
(``torchvision/models/resnet.py``).
"""
from typing import Dict, Optional, Sequence

import torch.nn as nn
from mmpretrain.models.backbones.resnet import ResLayer, ResNet

from mmext.registry import MODELS
from mmext.utils.validation import check_arg
from ..utils.attention_blocks import AttentionBottleneck


class GSoPBottleneck(AttentionBottleneck):
    """mmpretrain's Bottleneck with an optional block after ``norm3``,
    before the residual add (``self.gsop``; ``None`` is a plain block).

    Shapes:
        - input: ``(N, in_channels, H, W)``
        - output: ``(N, out_channels, H / stride, W / stride)``
    """

    attention_name = 'gsop'

    def __init__(self, in_channels: int, out_channels: int,
                 **kwargs) -> None:
        super().__init__(in_channels, out_channels, **kwargs)
        self.gsop: Optional[nn.Module] = None


@MODELS.register_module()
class GSoPResNet(ResNet):
    """ResNet with a GSoP block in the last bottleneck of chosen stages.

    GSoP-Net1 (the paper's Fig. 1): blocks in all 4 stages, global average
    pooling at the end. GSoP-Net2: blocks in the first 3 stages and an
    iSQRT-COV head (:class:`mmext.models.ISQRTCOVNeck` with 3 iterations).
    Both use ``strides=(1, 2, 2, 1)`` in the authors' code.

    Args:
        depth (int): 50, 101 or 152 (bottleneck ResNets, as the authors').
        gsop_stages (Sequence[bool]): Which stages get a block in their last
            bottleneck. Defaults to all four.
        gsop_cfg (dict): The block, built with ``in_channels`` set to the
            stage's output channels and ``stride`` from
            ``gsop_reduce_strides``. Defaults to
            ``dict(type='GSoPChannelBlock', reduced_channels=128)``; use
            ``GSoPPositionBlock`` for the position-wise variant.
        gsop_reduce_strides (Sequence[int]): Stride of the block's reduction
            conv per stage; the authors use 2 in the first stage (56 x 56
            map) and 1 elsewhere. Defaults to ``(2, 1, 1, 1)``.
        **kwargs: Other arguments of mmpretrain's ``ResNet``.
    """

    arch_settings = {
        50: (GSoPBottleneck, (3, 4, 6, 3)),
        101: (GSoPBottleneck, (3, 4, 23, 3)),
        152: (GSoPBottleneck, (3, 8, 36, 3)),
    }

    def __init__(self,
                 depth: int,
                 gsop_stages: Sequence[bool] = (True, True, True, True),
                 gsop_cfg: Dict = dict(
                     type='GSoPChannelBlock', reduced_channels=128),
                 gsop_reduce_strides: Sequence[int] = (2, 1, 1, 1),
                 **kwargs) -> None:
        check_arg(self, 'depth', depth, choices=self.arch_settings)
        num_stages = kwargs.get('num_stages', 4)
        if len(gsop_stages) != num_stages or \
                len(gsop_reduce_strides) != num_stages:
            raise ValueError(
                f'gsop_stages and gsop_reduce_strides need one entry per '
                f'stage ({num_stages}), but got {gsop_stages!r} and '
                f'{gsop_reduce_strides!r}')
        # Read by make_res_layer() while ResNet.__init__ builds the stages.
        self._gsop_stages = tuple(bool(s) for s in gsop_stages)
        self._gsop_cfg = dict(gsop_cfg)
        self._gsop_strides = tuple(gsop_reduce_strides)
        super().__init__(depth, **kwargs)

    def train(self, mode: bool = True) -> 'GSoPResNet':
        # mmpretrain's ResNet.train() returns None; nn.Module's returns self.
        super().train(mode)
        return self

    def make_res_layer(self, **kwargs) -> ResLayer:
        """Build one stage; ResNet.__init__ calls this once per stage in
        order, before appending the stage's name to ``self.res_layers``."""
        stage = len(self.res_layers)
        layer = ResLayer(**kwargs)
        if self._gsop_stages[stage]:
            layer[-1].gsop = MODELS.build(
                dict(
                    self._gsop_cfg,
                    in_channels=kwargs['out_channels'],
                    stride=self._gsop_strides[stage]))
        return layer
