"""ACmix: mixed self-attention and convolution (Pan et al., CVPR 2022).

`On the Integration of Self-Attention and Convolution
<https://arxiv.org/abs/2111.14556>`_; authors' code: LeapLabTHU/ACmix
(``ResNet/test_bottleneck.py``).
"""
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmext.registry import MODELS
from mmext.utils.validation import check_arg


def coordinate_map(height: int, width: int,
                   device: Optional[torch.device] = None,
                   dtype: Optional[torch.dtype] = None) -> torch.Tensor:
    """Normalized pixel coordinates, the input of ACmix's positional encoding.

    Args:
        height (int): Map height ``H``.
        width (int): Map width ``W``.
        device (torch.device, optional): Device of the result.
        dtype (torch.dtype, optional): Floating dtype of the result.

    Returns:
        Tensor: ``(1, 2, H, W)``; channel 0 is the x coordinate and channel 1
        the y coordinate, each ``linspace(-1, 1)`` along its axis.
    """
    loc_w = torch.linspace(-1.0, 1.0, width, device=device, dtype=dtype)
    loc_h = torch.linspace(-1.0, 1.0, height, device=device, dtype=dtype)
    return torch.stack([
        loc_w.unsqueeze(0).expand(height, width),
        loc_h.unsqueeze(1).expand(height, width)
    ]).unsqueeze(0)


def _reflect_indices(size: int, pad: int,
                     device: torch.device) -> torch.Tensor:
    # Mirror indices with period 2 * (size - 1): identical to
    # nn.ReflectionPad2d for pad < size (the authors' padding), and still
    # defined on maps smaller than the window (small detection levels, odd
    # test sizes), where ReflectionPad2d raises.
    idx = torch.arange(-pad, size + pad, device=device)
    if size == 1:
        return torch.zeros_like(idx)
    period = 2 * (size - 1)
    idx = idx.remainder(period)
    return torch.where(idx < size, idx, period - idx)


def reflect_pad2d(x: torch.Tensor, pad: int) -> torch.Tensor:
    """Reflection padding of the last two axes by ``pad`` on every side.

    Args:
        x (Tensor): ``(..., H, W)``.
        pad (int): Padding on each side.

    Returns:
        Tensor: ``(..., H + 2 * pad, W + 2 * pad)``.
    """
    h, w = x.shape[-2:]
    x = x.index_select(-2, _reflect_indices(h, pad, x.device))
    return x.index_select(-1, _reflect_indices(w, pad, x.device))


def shift_kernels(kernel_size: int, out_channels: int) -> torch.Tensor:
    """Weights of ACmix's grouped convolution initialised as shifts.

    Input ``t`` of every group gets a one-hot kernel at
    ``(t // kernel_size, t % kernel_size)``, so each output sums the
    ``kernel_size^2`` inputs of its group, each shifted by its own offset
    (Sec. 4.2, Fig. 3 of the paper).

    Args:
        kernel_size (int): Kernel size ``k``.
        out_channels (int): Output channels of the convolution.

    Returns:
        Tensor: ``(out_channels, k^2, k, k)``.
    """
    eye = torch.eye(kernel_size * kernel_size)
    return eye.view(-1, kernel_size, kernel_size).expand(out_channels, -1, -1,
                                                         -1).clone()


def shift_conv_path(fc: nn.Module,
                    dep_conv: nn.Module,
                    qkv: torch.Tensor,
                    height: int,
                    width: int,
                    token_major: bool = False) -> torch.Tensor:
    """ACmix's convolution path on the shared projections (Sec. 4.1).

    A 1x1 convolution ``fc`` mixes the ``3 * heads`` maps (per channel of a
    head) into ``k^2`` maps; the grouped ``k x k`` convolution ``dep_conv``
    (``d`` groups of ``k^2`` inputs) aggregates them.

    Args:
        fc (nn.Module): ``Conv2d(3 * heads, k^2, 1)``.
        dep_conv (nn.Module): ``Conv2d(k^2 * d, C, k, groups=d)``.
        qkv (Tensor): ``(N, 3 * heads, d, H * W)``: the heads of q, then of
            k, then of v; with ``token_major``, ``(N, H * W, 3 * heads, d)``
            (a ``Linear`` qkv projection's output, as in ACmix-Swin).
        height (int): ``H``.
        width (int): ``W``.
        token_major (bool): ``qkv``'s layout, see above. ``fc`` is then
            applied as a linear layer on the ``3 * heads`` axis: as a 1x1
            convolution on a permuted view it would copy its input, and its
            backward takes a far slower path (ACmix-Swin-T's first stage:
            2.3x the time fwd+bwd).

    Returns:
        Tensor: ``(N, C, H', W')``, the output of ``dep_conv``.
    """
    n = qkv.size(0)
    if token_major:
        f = F.linear(qkv.transpose(2, 3), fc.weight.flatten(1), fc.bias)
        f = f.permute(0, 2, 3, 1)  # (N, HW, d, k^2) -> (N, d, k^2, H * W)
    else:
        f = fc(qkv).permute(0, 2, 1, 3)  # (N, k^2, d, HW) -> (N, d, k^2, HW)
    return dep_conv(f.reshape(n, -1, height, width))


@MODELS.register_module()
class ACmix(BaseModule):
    """The ACmix module for convolutional backbones (Sec. 4 of the paper).

    Stage I, shared by both paths: three 1x1 convolutions give ``q, k, v``
    (``conv1``, ``conv2``, ``conv3``; ``C_out`` channels each, split into
    ``num_heads`` heads of ``d = C_out / num_heads`` channels).

    Stage II, attention path: every query attends to the ``kernel_att^2``
    keys of the window centred on it (reflection padding), with a positional
    encoding ``pe = conv_p(coordinates)`` (``d`` channels, shared by the
    heads)::

        logit(i, j) = (q_i / sqrt(d)) . (k_j + pe_i - pe_j)
        out_att(i)  = sum_j softmax_j(logit(i, j)) v_j

    With ``stride > 1`` the queries are taken every ``stride`` pixels while
    the keys stay at full resolution (the authors' scheme). The window is
    swept offset by offset over strided views of the padded maps, so neither
    the ``(B*heads, d, kernel_att^2, H', W')`` unfold of the authors' code
    nor a copy of it is ever held: the only per-window tensors are the
    ``(B*heads, kernel_att^2, H', W')`` logits and weights. The term
    ``q_i . pe_i`` is the same for every key of a window and cancels in the
    softmax, so it is not computed.

    Stage II, convolution path: a bias-free 1x1 convolution ``fc`` mixes the
    ``3 * num_heads`` maps ``[q; k; v]`` (per channel of a head) into
    ``kernel_conv^2`` maps (the authors' ``3N -> k^2``; the paper's
    ``3N -> k^2 N`` is a typo, per the authors), and a grouped
    ``kernel_conv x kernel_conv`` convolution ``dep_conv`` (``d`` groups,
    ``kernel_conv^2`` inputs per group, no bias) initialised as shift
    kernels: input ``t`` of a group is shifted by ``(t // kernel_conv - p,
    t % kernel_conv - p)``, ``p = kernel_conv // 2``, and every output of
    the group sums the shifted inputs (Sec. 4.2, Fig. 3).

    Output: ``rate1 * out_att + rate2 * out_conv`` with learnable scalars.

    Args:
        in_channels (int): Input channels ``C_in``.
        out_channels (int): Output channels ``C_out``; divisible by
            ``num_heads``.
        kernel_att (int): Attention window size. Defaults to 7.
        num_heads (int): Attention heads. Defaults to 4.
        kernel_conv (int): Kernel size of the convolution path. Defaults to 3.
        stride (int): Stride of both paths. Defaults to 1.
        rate_init (Sequence[float]): Initial ``(rate1, rate2)``; the authors
            use ``(0.5, 0.5)`` in ResNet and ``(1, 1)`` in Swin. Defaults to
            ``(0.5, 0.5)``.
        init_cfg (dict | list[dict], optional): Initialization config.

    Shapes:
        - input: ``(N, C_in, H, W)``
        - output: ``(N, C_out, ceil(H / stride), ceil(W / stride))``
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_att: int = 7,
                 num_heads: int = 4,
                 kernel_conv: int = 3,
                 stride: int = 1,
                 rate_init: Sequence[float] = (0.5, 0.5),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        for name, value in dict(in_channels=in_channels,
                                out_channels=out_channels,
                                num_heads=num_heads, stride=stride).items():
            check_arg(self, name, value, int, low=1)
        check_arg(self, 'kernel_att', kernel_att, int, low=1, odd=True)
        check_arg(self, 'kernel_conv', kernel_conv, int, low=1, odd=True)
        if out_channels % num_heads:
            raise ValueError(f'out_channels ({out_channels}) must be '
                             f'divisible by num_heads ({num_heads})')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_att = kernel_att
        self.num_heads = num_heads
        self.kernel_conv = kernel_conv
        self.stride = stride
        self.rate_init = tuple(float(r) for r in rate_init)
        self.head_dim = out_channels // num_heads

        # The authors' names, so their state_dicts load unchanged.
        self.conv1 = nn.Conv2d(in_channels, out_channels, 1)
        self.conv2 = nn.Conv2d(in_channels, out_channels, 1)
        self.conv3 = nn.Conv2d(in_channels, out_channels, 1)
        self.conv_p = nn.Conv2d(2, self.head_dim, 1)
        self.fc = nn.Conv2d(3 * num_heads, kernel_conv**2, 1, bias=False)
        self.dep_conv = nn.Conv2d(
            kernel_conv**2 * self.head_dim,
            out_channels,
            kernel_conv,
            stride=stride,
            padding=kernel_conv // 2,
            groups=self.head_dim,
            bias=False)
        self.rate1 = nn.Parameter(torch.empty(1))
        self.rate2 = nn.Parameter(torch.empty(1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Set ``rate1, rate2`` to ``rate_init`` and ``dep_conv`` to shift
        kernels (the authors' ``reset_parameters``)."""
        with torch.no_grad():
            self.rate1.fill_(self.rate_init[0])
            self.rate2.fill_(self.rate_init[1])
            self.dep_conv.weight.copy_(
                shift_kernels(self.kernel_conv, self.out_channels))

    def _out_size(self, size: int) -> int:
        return (size - 1) // self.stride + 1

    def attention(self, q: torch.Tensor, k: torch.Tensor,
                  v: torch.Tensor) -> torch.Tensor:
        """Local-window attention path.

        Args:
            q, k, v (Tensor): ``(N, C_out, H, W)`` each.

        Returns:
            Tensor: ``(N, C_out, H', W')``, ``H' = ceil(H / stride)``.
        """
        n, c, h, w = q.shape
        s, ka = self.stride, self.kernel_att
        h_out, w_out = self._out_size(h), self._out_size(w)
        bh, d = n * self.num_heads, self.head_dim
        pad = ka // 2

        pe = self.conv_p(coordinate_map(h, w, q.device, q.dtype))  # 1,d,H,W
        q = q.reshape(bh, d, h, w)[:, :, ::s, ::s] * d**-0.5
        k_pad = reflect_pad2d(k.reshape(bh, d, h, w), pad)
        v_pad = reflect_pad2d(v.reshape(bh, d, h, w), pad)
        pe_pad = reflect_pad2d(pe, pad)

        def window(x: torch.Tensor, t: int) -> torch.Tensor:
            # Element t of each query's window, for all queries at once.
            di, dj = divmod(t, ka)
            return x[:, :, di:di + s * (h_out - 1) + 1:s,
                     dj:dj + s * (w_out - 1) + 1:s]

        logits = torch.stack([
            (q * window(k_pad, t)).sum(1) - (q * window(pe_pad, t)).sum(1)
            for t in range(ka * ka)
        ], 1)  # (N * heads, ka^2, H', W')
        weights = logits.softmax(dim=1)
        out = weights[:, :1] * window(v_pad, 0)
        for t in range(1, ka * ka):
            out = out + weights[:, t:t + 1] * window(v_pad, t)
        return out.reshape(n, c, h_out, w_out)

    def convolution(self, q: torch.Tensor, k: torch.Tensor,
                    v: torch.Tensor) -> torch.Tensor:
        """Shift (grouped convolution) path.

        Args:
            q, k, v (Tensor): ``(N, C_out, H, W)`` each.

        Returns:
            Tensor: ``(N, C_out, H', W')``, ``H' = ceil(H / stride)``.
        """
        n, _, h, w = q.shape
        heads, d = self.num_heads, self.head_dim
        qkv = torch.cat([t.reshape(n, heads, d, h * w) for t in (q, k, v)],
                        1)  # (N, 3 * heads, d, H * W)
        return shift_conv_path(self.fc, self.dep_conv, qkv, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """
        Args:
            x (Tensor): ``(N, C_in, H, W)``.

        Returns:
            Tensor: ``(N, C_out, ceil(H / stride), ceil(W / stride))``.
        """
        q, k, v = self.conv1(x), self.conv2(x), self.conv3(x)
        return (self.rate1 * self.attention(q, k, v) +
                self.rate2 * self.convolution(q, k, v))

    def extra_repr(self) -> str:
        return (f'kernel_att={self.kernel_att}, num_heads={self.num_heads}, '
                f'kernel_conv={self.kernel_conv}, stride={self.stride}')

