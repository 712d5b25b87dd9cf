"""GSoP blocks (Gao et al., CVPR 2019): second-order attention in-between a
network.

`Global Second-order Pooling Convolutional Networks
<https://arxiv.org/abs/1811.12006>`_; authors' code:
ZilinGao/Global-Second-order-Pooling-Convolutional-Networks.
"""
from typing import Dict, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule

from mmext.ops import cov_pool
from mmext.registry import MODELS
from mmext.utils.validation import check_arg


class _RowWiseHead(nn.Module):
    """Row-wise convolution of a ``d x d`` covariance and a 1x1 projection.

    ``(N, d, d) -> BN -> Conv2d(d, 4d, (d, 1), groups=d) [-> ReLU] ->
    Conv2d(4d, out) -> (N, out)``: each row of the covariance (the second
    order statistics of one channel or position) gets its own 4 filters
    (Sec. 3.1 of the paper).
    """

    def __init__(self, d: int, out_channels: int, norm_cfg: Dict,
                 mid_act: bool) -> None:
        super().__init__()
        self.row_norm = build_norm_layer(norm_cfg, d)[1]
        self.row_conv = nn.Conv2d(d, 4 * d, kernel_size=(d, 1), groups=d)
        self.mid_act = nn.ReLU(inplace=True) if mid_act else nn.Identity()
        self.fc = nn.Conv2d(4 * d, out_channels, kernel_size=1)

    def forward(self, cov: torch.Tensor) -> torch.Tensor:
        out = self.row_norm(cov.unsqueeze(-1))
        out = self.mid_act(self.row_conv(out))
        return self.fc(out).flatten(1)


class _GSoPBlock(BaseModule):
    """What both GSoP blocks share: the input check and the reduction
    ``ReLU -> Conv1x1(C -> d, bias) -> BN`` (``reduce_conv``,
    ``reduce_norm``).

    Shapes:
        - input: ``(N, C, H, W)``
        - output of :meth:`_reduce`: ``(N, d, H / stride, W / stride)``
    """

    def __init__(self, in_channels: int, reduced_channels: int, stride: int,
                 norm_cfg: Dict,
                 init_cfg: Optional[Union[Dict, Sequence[Dict]]]) -> None:
        super().__init__(init_cfg=init_cfg)
        check_arg(self, 'in_channels', in_channels, int, low=1)
        check_arg(self, 'reduced_channels', reduced_channels, int, low=1)
        check_arg(self, 'stride', stride, int, low=1)
        self.in_channels = in_channels
        self.reduce_conv = nn.Conv2d(
            in_channels, reduced_channels, kernel_size=1, stride=stride)
        self.reduce_norm = build_norm_layer(norm_cfg, reduced_channels)[1]

    def _reduce(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.size(1) != self.in_channels:
            raise ValueError(
                f'{self.__class__.__name__} expects input of shape (N, '
                f'{self.in_channels}, H, W), but got {tuple(x.shape)}')
        return self.reduce_norm(self.reduce_conv(F.relu(x)))


@MODELS.register_module()
class GSoPChannelBlock(_GSoPBlock):
    """Channel-wise GSoP block: ``x * sigmoid(f(Cov(reduce(x))))``.

    ``ReLU -> Conv1x1(C -> d, bias, stride) -> BN -> ReLU``, the ``d x d``
    covariance over spatial positions (:func:`mmext.ops.cov_pool`, no square
    root), row-wise convolution ``d -> 4d``, 1x1 convolution ``4d -> C``,
    sigmoid, and channel scaling of the input (Fig. 2 of the paper). The
    authors put it after the last BN of a bottleneck, before the residual
    add, and use stride 2 in the reduction of the first stage.

    Usable as an mmcv plugin (``build_plugin_layer`` passes
    ``in_channels``) or through :class:`mmext.models.GSoPResNet`.

    Args:
        in_channels (int): Channels ``C`` of the input.
        reduced_channels (int): Covariance size ``d``. Defaults to 128.
        stride (int): Stride of the reduction conv. Defaults to 1.
        norm_cfg (dict): Norm layers. Defaults to BN.
        init_cfg (dict or list[dict], optional): Initialization config.

    Shapes:
        - input: ``(N, C, H, W)``
        - output: ``(N, C, H, W)``
    """

    _abbr_ = 'gsop_channel'

    def __init__(self,
                 in_channels: int,
                 reduced_channels: int = 128,
                 stride: int = 1,
                 norm_cfg: Dict = dict(type='BN'),
                 init_cfg: Optional[Union[Dict, Sequence[Dict]]] = None
                 ) -> None:
        super().__init__(in_channels, reduced_channels, stride, norm_cfg,
                         init_cfg)
        self.head = _RowWiseHead(reduced_channels, in_channels, norm_cfg,
                                 mid_act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scale the channels of ``x`` (``(N, C, H, W)``)."""
        out = F.relu(self._reduce(x), inplace=True)
        att = self.head(cov_pool(out)).sigmoid()
        return x * att.view(x.size(0), -1, 1, 1)


@MODELS.register_module()
class GSoPPositionBlock(_GSoPBlock):
    """Position-wise GSoP block: ``ReLU(x * upsample(sigmoid(g(Cov))))``.

    ``ReLU -> Conv1x1(C -> d, bias) -> BN``, adaptive average pooling to a
    ``h x w`` grid, the ``hw x hw`` covariance between grid positions (each
    position is a variable observed over the ``d`` channels), row-wise
    convolution ``hw -> 4hw``, ReLU, 1x1 convolution ``4hw -> hw``, sigmoid,
    the ``h x w`` map resized back to ``H x W`` by adaptive average pooling,
    and position scaling followed by ReLU (the authors' position variant).

    Args:
        in_channels (int): Channels ``C`` of the input.
        reduced_channels (int): Channels ``d`` after reduction. Defaults to
            128.
        pool_size (int): Grid side ``h = w``. Defaults to 8.
        stride (int): Stride of the reduction conv. Defaults to 1.
        norm_cfg (dict): Norm layers. Defaults to BN.
        init_cfg (dict or list[dict], optional): Initialization config.

    Shapes:
        - input: ``(N, C, H, W)``
        - output: ``(N, C, H, W)``
    """

    _abbr_ = 'gsop_position'

    def __init__(self,
                 in_channels: int,
                 reduced_channels: int = 128,
                 pool_size: int = 8,
                 stride: int = 1,
                 norm_cfg: Dict = dict(type='BN'),
                 init_cfg: Optional[Union[Dict, Sequence[Dict]]] = None
                 ) -> None:
        super().__init__(in_channels, reduced_channels, stride, norm_cfg,
                         init_cfg)
        check_arg(self, 'pool_size', pool_size, int, low=1)
        self.pool_size = pool_size
        positions = pool_size * pool_size
        self.head = _RowWiseHead(positions, positions, norm_cfg, mid_act=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scale the positions of ``x`` (``(N, C, H, W)``)."""
        out = self._reduce(x)
        out = F.adaptive_avg_pool2d(out, self.pool_size)
        # Positions are the variables, channels the observations.
        cov = cov_pool(out.flatten(2).transpose(1, 2))
        att = self.head(cov).sigmoid()
        att = att.view(x.size(0), 1, self.pool_size, self.pool_size)
        att = F.adaptive_avg_pool2d(att, x.shape[2:])
        return F.relu(x * att)
