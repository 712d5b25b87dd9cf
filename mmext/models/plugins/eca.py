"""ECA: Efficient Channel Attention (Wang et al., CVPR 2020).

`ECA-Net: Efficient Channel Attention for Deep Convolutional Neural Networks
<https://arxiv.org/abs/1910.03151>`_; authors' code: BangguWu/ECANet.
"""
import math
from typing import Optional

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmext.registry import MODELS
from mmext.utils.validation import check_arg


def eca_kernel_size(channels: int, gamma: int = 2, b: int = 1) -> int:
    """The adaptive kernel size of the paper, Eq. (12).

    ``k = psi(C) = |log2(C) / gamma + b / gamma|_odd``, where ``|t|_odd`` is
    the nearest odd number to ``t``. The paper's implementation takes
    ``t = int(|(log2(C) + b) / gamma|)`` and bumps an even ``t`` to ``t + 1``;
    this function does the same, so e.g. ``C = 64 -> 3``, ``128 -> 5``,
    ``2048 -> 7`` for ``gamma = 2, b = 1``.

    Args:
        channels (int): Number of channels ``C`` the attention runs over.
        gamma (int): ``gamma`` of Eq. (12). Defaults to 2.
        b (int): ``b`` of Eq. (12). Defaults to 1.

    Returns:
        int: A positive odd kernel size.
    """
    check_arg('eca_kernel_size', 'channels', channels, int, low=1)
    check_arg('eca_kernel_size', 'gamma', gamma, float, low=0, low_open=True)
    check_arg('eca_kernel_size', 'b', b, float)
    t = int(abs((math.log2(channels) + b) / gamma))
    return t if t % 2 else t + 1


@MODELS.register_module()
class ECALayer(BaseModule):
    """Efficient channel attention (ECA) module, Sec. 3.2 of the paper.

    ``y = x * sigmoid(conv1d_k(GAP(x)))``: global average pooling gives one
    descriptor per channel, a bias-free 1-D convolution of size ``k`` with
    zero padding ``(k - 1) // 2`` slides over the *channel* axis (local
    cross-channel interaction without dimensionality reduction, Eq. (9)), and
    the sigmoid of the result rescales each channel of the input.

    It can be used as an mmcv plugin (``build_plugin_layer`` passes
    ``in_channels``), e.g. in mmdet's ResNet::

        plugins=[dict(cfg=dict(type='ECALayer'), position='after_conv3')]

    Args:
        in_channels (int): Number of input channels ``C``.
        kernel_size (int, optional): Size ``k`` of the 1-D convolution; a
            positive odd int. ``None`` selects it adaptively from ``C`` by
            Eq. (12), see :func:`eca_kernel_size`. Defaults to None.
        gamma (int): ``gamma`` of the adaptive rule. Defaults to 2.
        b (int): ``b`` of the adaptive rule. Defaults to 1.
        init_cfg (dict or list[dict], optional): Initialization config.
            Defaults to None (PyTorch's default ``Conv1d`` initialization, as
            in the authors' code).

    Shapes:
        - input: ``(N, C, H, W)``
        - output: ``(N, C, H, W)``
    """

    _abbr_ = 'eca_layer'

    def __init__(self,
                 in_channels: int,
                 kernel_size: Optional[int] = None,
                 gamma: int = 2,
                 b: int = 1,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        check_arg(self, 'in_channels', in_channels, int, low=1)
        check_arg(self, 'kernel_size', kernel_size, int, low=1, odd=True,
                  allow_none=True)
        if kernel_size is None:
            kernel_size = eca_kernel_size(in_channels, gamma, b)
        self.in_channels = in_channels
        self.kernel_size = kernel_size
        self.conv = nn.Conv1d(
            1,
            1,
            kernel_size=kernel_size,
            padding=(kernel_size - 1) // 2,
            bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Rescale the channels of ``x``.

        Args:
            x (Tensor): Feature map of shape ``(N, C, H, W)``.

        Returns:
            Tensor: ``x`` times its channel weights, shape ``(N, C, H, W)``.
        """
        if x.dim() != 4 or x.size(1) != self.in_channels:
            raise ValueError(
                f'{self.__class__.__name__} expects input of shape (N, '
                f'{self.in_channels}, H, W), but got {tuple(x.shape)}')
        n, c = x.shape[:2]
        # (N, C) descriptors as N one-channel sequences of length C.
        y = x.mean(dim=(2, 3)).unsqueeze(1)
        y = self.conv(y).sigmoid()
        return x * y.view(n, c, 1, 1)

    def extra_repr(self) -> str:
        return (f'in_channels={self.in_channels}, '
                f'kernel_size={self.kernel_size}')
