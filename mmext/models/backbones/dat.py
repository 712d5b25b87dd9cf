"""DAT: Vision Transformer with Deformable Attention (Xia et al., CVPR 2022).

`Vision Transformer with Deformable Attention
<https://arxiv.org/abs/2201.00520>`_; authors' code: LeapLabTHU/DAT at commit
566a593 (``models/dat.py``, ``models/dat_blocks.py``; later commits are the
follow-up DAT++). Four stages of pre-norm transformer blocks on (B, C, H, W)
maps; each block's attention is local window attention (``'L'``), shifted
window attention (``'S'``) or deformable attention (``'D'``, Sec. 3.2). The
deformable keys/values are sampled with :func:`mmext.ops.deform_sample`.
"""
import math
import re
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn.bricks import DropPath
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.utils import LayerNorm2d
from torch import Tensor

from mmext.ops import deform_sample
from mmext.registry import MODELS
from mmext.utils.converter import rename_by_rules
from mmext.utils.validation import check_arg


def reference_points(h: int, w: int, dtype: torch.dtype,
                     device: torch.device) -> Tensor:
    """Pixel centres of an h x w map as normalised ``(y, x)``, (h, w, 2).

    As the authors: ``(i + 0.5) / h * 2 - 1``, later read by
    ``align_corners=True`` sampling (so the grid is slightly contracted).
    """
    ys = torch.linspace(0.5, h - 0.5, h, dtype=dtype, device=device)
    xs = torch.linspace(0.5, w - 0.5, w, dtype=dtype, device=device)
    ref = torch.stack(torch.meshgrid(ys, xs, indexing='ij'), -1)
    return ref / ref.new_tensor([h, w]) * 2 - 1


def resize_bias_table(table: Tensor, size: Tuple[int, int],
                      name: str = 'table') -> Tensor:
    """Bicubic resize of a bias table, (heads, h, w) -> (heads, *size).

    The authors' ``load_pretrained`` for fine-tuning at 384: plain
    ``F.interpolate(mode='bicubic')`` (``align_corners=False``) of the
    window tables and of the deformable blocks' continuous tables. Computed
    in float32 and returned in the table's dtype.
    """
    if tuple(table.shape[1:]) == tuple(size):
        return table
    MMLogger.get_current_instance().info(
        f'resize {name} from {tuple(table.shape[1:])} to {tuple(size)} '
        '(bicubic)')
    out = F.interpolate(
        table[None].float(), size=tuple(size), mode='bicubic',
        align_corners=False)
    return out[0].to(table.dtype)


class WindowAttention(BaseModule):
    """Multi-head self-attention in non-overlapping windows with a relative
    position bias (Swin); with ``shift_size > 0`` the map is rolled first
    and cross-window pairs masked (``'S'`` blocks).

    Inputs whose size is not a multiple of the window are zero-padded at the
    bottom/right and cropped back.

    Args:
        embed_dims (int): Channels C.
        num_heads (int): Heads.
        window_size (int): Window side.
        shift_size (int): Roll of the shifted variant; 0 for ``'L'``. The
            authors use ``ceil(window_size / 2)``.
        attn_drop (float): Dropout on attention weights.
        proj_drop (float): Dropout after the output projection.

    Shapes:
        - input: (B, C, H, W)
        - output: (B, C, H, W)
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 window_size: int,
                 shift_size: int = 0,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims={embed_dims} is not divisible by '
                             f'num_heads={num_heads}')
        if not 0 <= shift_size < window_size:
            raise ValueError(f'shift_size={shift_size} must be in '
                             f'[0, window_size={window_size})')
        self.num_heads = num_heads
        self.window_size = window_size
        self.shift_size = shift_size
        self.scale = (embed_dims // num_heads)**-0.5
        self.proj_qkv = nn.Linear(embed_dims, 3 * embed_dims)
        self.proj_out = nn.Linear(embed_dims, embed_dims)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj_drop = nn.Dropout(proj_drop)
        ws = window_size
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * ws - 1)**2, num_heads))
        coords = torch.stack(
            torch.meshgrid(torch.arange(ws), torch.arange(ws),
                           indexing='ij')).flatten(1)  # 2, ws*ws
        rel = (coords[:, :, None] - coords[:, None, :]) + (ws - 1)
        self.register_buffer(
            'relative_position_index', rel[0] * (2 * ws - 1) + rel[1],
            persistent=False)

    def init_weights(self) -> None:
        super().init_weights()
        trunc_normal_(self.relative_position_bias_table, std=0.01)

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args,
                              **kwargs) -> None:
        """Resize a loaded ``relative_position_bias_table`` of another window
        size (e.g. 7 at 224 -> 12 at 384) by :func:`resize_bias_table`."""
        key = prefix + 'relative_position_bias_table'
        table = state_dict.get(key)
        own = self.relative_position_bias_table
        if table is not None and table.dim() == 2 and \
                table.shape != own.shape and table.shape[1] == own.shape[1]:
            side = math.isqrt(table.shape[0])
            if side * side != table.shape[0]:
                raise ValueError(f'{key}: expected (side**2, heads), got '
                                 f'{tuple(table.shape)}')
            grid = table.t().reshape(-1, side, side)
            side = 2 * self.window_size - 1
            state_dict[key] = resize_bias_table(grid, (side, side),
                                                key).flatten(1).t()
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _shift_mask(self, hp: int, wp: int, device: torch.device) -> Tensor:
        """(nW, ws*ws, ws*ws) mask: -100 between tokens that the roll brought
        from different regions of the (hp, wp) map (the authors' value)."""
        ws, s = self.window_size, self.shift_size
        img = torch.zeros(hp, wp, device=device)
        cnt = 0
        for h in (slice(0, -ws), slice(-ws, -s), slice(-s, None)):
            for w in (slice(0, -ws), slice(-ws, -s), slice(-s, None)):
                img[h, w] = cnt
                cnt += 1
        win = img.view(hp // ws, ws, wp // ws, ws).permute(0, 2, 1, 3)
        win = win.reshape(-1, ws * ws)
        mask = win[:, None, :] - win[:, :, None]
        return mask.masked_fill(mask != 0, -100.0)

    def forward(self, x: Tensor) -> Tensor:
        B, C, H, W = x.shape
        ws = self.window_size
        pad_h, pad_w = (-H) % ws, (-W) % ws
        x = F.pad(x, (0, pad_w, 0, pad_h))
        hp, wp = H + pad_h, W + pad_w
        if self.shift_size:
            x = torch.roll(x, (-self.shift_size, -self.shift_size), (2, 3))
        r1, r2 = hp // ws, wp // ws
        # (B, C, r1*ws, r2*ws) -> (B*r1*r2, ws*ws, C)
        x = x.view(B, C, r1, ws, r2, ws).permute(0, 2, 4, 3, 5, 1)
        x = x.reshape(B * r1 * r2, ws * ws, C)
        qkv = self.proj_qkv(x).view(-1, ws * ws, 3, self.num_heads,
                                    C // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B', h, N, c)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[
            self.relative_position_index.view(-1)].view(ws * ws, ws * ws, -1)
        attn = attn + bias.permute(2, 0, 1)
        if self.shift_size:
            mask = self._shift_mask(hp, wp, x.device)
            attn = attn.view(B, r1 * r2, self.num_heads, ws * ws, ws * ws)
            attn = (attn + mask[None, :, None]).flatten(0, 1)
        attn = self.attn_drop(attn.softmax(dim=-1))
        x = (attn @ v).transpose(1, 2).reshape(-1, ws * ws, C)
        x = self.proj_drop(self.proj_out(x))
        x = x.view(B, r1, r2, ws, ws, C).permute(0, 5, 1, 3, 2, 4)
        x = x.reshape(B, C, hp, wp)
        if self.shift_size:
            x = torch.roll(x, (self.shift_size, self.shift_size), (2, 3))
        return x[:, :, :H, :W].contiguous()


class DeformableAttention(BaseModule):
    """Deformable multi-head attention (Sec. 3.2, Eq. (7)-(9)).

    Queries come from every position; a shared offset network on each
    group's queries (depthwise k x k conv -> LN -> GELU -> 1x1 conv to 2
    channels) shifts a reference grid of key positions; keys and values are
    projected from the features bilinearly sampled there, and a relative
    position bias is sampled from a continuous table at every query-key
    displacement.

    Args:
        embed_dims (int): Channels C.
        num_heads (int): Heads (a multiple of ``groups``).
        groups (int): Offset groups G; each shares one set of sampled points
            among its ``num_heads / G`` heads.
        offset_kernel_size (int): Kernel of the offset network's depthwise
            conv (the authors: 9/7/5/3 for stages 1-4).
        offset_stride (int): Its stride r: keys are sampled on an
            (H / r) x (W / r) grid.
        offset_range_factor (float): s of Eq. (8): > 0 bounds offsets to
            ``s * tanh(.)`` grid cells; 0 leaves them unbounded; < 0 squashes
            the positions with tanh instead (the authors' three cases).
        use_pe (bool): Add the sampled relative position bias.
        rpe_size (tuple[int, int]): (H, W) the bias table is sized for: it
            holds ``(2H - 1) x (2W - 1)`` entries per head and is sampled at
            normalised displacements, so it serves any input size.
        attn_drop (float): Dropout on attention weights.
        proj_drop (float): Dropout after the output projection.

    Shapes:
        - input: (B, C, H, W)
        - output: (B, C, H, W), the sampled positions (B, G, Hk, Wk, 2) as
          normalised ``(y, x)`` and the reference grid of the same shape.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 groups: int,
                 offset_kernel_size: int,
                 offset_stride: int = 1,
                 offset_range_factor: float = 2.,
                 use_pe: bool = True,
                 rpe_size: Tuple[int, int] = (14, 14),
                 attn_drop: float = 0.,
                 proj_drop: float = 0.,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if embed_dims % num_heads or num_heads % groups:
            raise ValueError(
                f'embed_dims={embed_dims}, num_heads={num_heads}, '
                f'groups={groups}: need C % heads == 0 and heads % G == 0')
        self.num_heads, self.groups = num_heads, groups
        self.head_dims = embed_dims // num_heads
        self.group_dims = embed_dims // groups
        self.scale = self.head_dims**-0.5
        self.offset_range_factor = offset_range_factor
        cg, k = self.group_dims, offset_kernel_size
        self.conv_offset = nn.Sequential(
            nn.Conv2d(cg, cg, k, offset_stride, k // 2, groups=cg),
            LayerNorm2d(cg, eps=1e-5), nn.GELU(),
            nn.Conv2d(cg, 2, 1, bias=False))
        self.proj_q = nn.Conv2d(embed_dims, embed_dims, 1)
        self.proj_k = nn.Conv2d(embed_dims, embed_dims, 1)
        self.proj_v = nn.Conv2d(embed_dims, embed_dims, 1)
        self.proj_out = nn.Conv2d(embed_dims, embed_dims, 1)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj_drop = nn.Dropout(proj_drop)
        if use_pe:
            h, w = rpe_size
            self.rpe_table = nn.Parameter(
                torch.zeros(num_heads, 2 * h - 1, 2 * w - 1))
        else:
            self.rpe_table = None

    def init_weights(self) -> None:
        super().init_weights()
        if self.rpe_table is not None:
            trunc_normal_(self.rpe_table, std=0.01)

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args,
                              **kwargs) -> None:
        """Resize a loaded ``rpe_table`` sized for another input size (e.g.
        27 x 27 at 224 -> 47 x 47 at 384 in stage 3) by
        :func:`resize_bias_table`."""
        key = prefix + 'rpe_table'
        table = state_dict.get(key)
        if self.rpe_table is not None and table is not None and \
                table.dim() == 3 and table.shape[0] == self.num_heads:
            state_dict[key] = resize_bias_table(
                table, self.rpe_table.shape[1:], key)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        B, C, H, W = x.shape
        G, cg = self.groups, self.group_dims
        q = self.proj_q(x)
        offset = self.conv_offset(q.reshape(B * G, cg, H, W))  # (BG,2,Hk,Wk)
        Hk, Wk = offset.shape[2:]
        if self.offset_range_factor > 0:
            # Eq. (8): at most s grid cells of the Hk x Wk reference grid
            cell = offset.new_tensor([1.0 / Hk, 1.0 / Wk]).view(1, 2, 1, 1)
            offset = offset.tanh() * cell * self.offset_range_factor
        ref = reference_points(Hk, Wk, x.dtype, x.device)
        pos = offset.permute(0, 2, 3, 1) + ref  # (BG, Hk, Wk, 2), (y, x)
        if self.offset_range_factor < 0:
            pos = pos.tanh()
        # grid_sample order is (x, y)
        sampled = deform_sample(
            x.reshape(B * G, cg, H, W), pos.flip(-1))  # (BG, cg, Hk, Wk)
        sampled = sampled.reshape(B, C, 1, Hk * Wk)
        n = Hk * Wk
        q = q.reshape(B * self.num_heads, self.head_dims, H * W)
        k = self.proj_k(sampled).reshape(B * self.num_heads, self.head_dims,
                                         n)
        v = self.proj_v(sampled).reshape(B * self.num_heads, self.head_dims,
                                         n)
        attn = (q.transpose(1, 2) @ k) * self.scale  # (Bh, HW, n)
        if self.rpe_table is not None:
            # Relative position bias at the (continuous) displacement of
            # every query from every sampled key, halved to [-1, 1] of the
            # (2H - 1) x (2W - 1) table.
            q_grid = reference_points(H, W, x.dtype, x.device).view(1, -1, 2)
            disp = (q_grid[:, :, None] - pos.reshape(B * G, 1, n, 2)) * 0.5
            table = self.rpe_table.expand(B, -1, -1, -1).reshape(
                B * G, self.num_heads // G, *self.rpe_table.shape[1:])
            bias = deform_sample(table, disp.flip(-1))  # (BG, h/G, HW, n)
            attn = attn + bias.reshape(B * self.num_heads, H * W, n)
        attn = self.attn_drop(attn.softmax(dim=2))
        out = (v @ attn.transpose(1, 2)).reshape(B, C, H, W)
        out = self.proj_drop(self.proj_out(out))
        ref = ref.expand(B * G, -1, -1, -1)
        return (out, pos.reshape(B, G, Hk, Wk, 2),
                ref.reshape(B, G, Hk, Wk, 2))


class DATBlock(BaseModule):
    """Pre-norm transformer block: ``x + attn(LN(x))``, ``x + MLP(LN(x))``.

    Args:
        embed_dims (int): Channels C.
        attn_type (str): ``'L'`` (window), ``'S'`` (shifted window) or
            ``'D'`` (deformable).
        attn_cfg (dict): Keyword arguments of the attention module.
        mlp_ratio (int): Hidden width of the MLP is ``mlp_ratio * C``.
        drop (float): Dropout in the MLP and after attention.
        drop_path (float): Stochastic depth rate.

    Shapes:
        - input: (B, C, H, W)
        - output: (B, C, H, W)
    """

    def __init__(self,
                 embed_dims: int,
                 attn_type: str,
                 attn_cfg: dict,
                 mlp_ratio: int = 4,
                 drop: float = 0.,
                 drop_path: float = 0.,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        self.attn_type = attn_type
        self.norm1 = LayerNorm2d(embed_dims, eps=1e-5)
        if attn_type == 'D':
            self.attn = DeformableAttention(
                embed_dims, proj_drop=drop, **attn_cfg)
        elif attn_type in ('L', 'S'):
            self.attn = WindowAttention(embed_dims, proj_drop=drop, **attn_cfg)
        else:
            raise ValueError(f"attn_type must be 'L', 'S' or 'D', got "
                             f'{attn_type!r}')
        self.drop_path = DropPath(drop_path) if drop_path > 0 else \
            nn.Identity()
        self.norm2 = LayerNorm2d(embed_dims, eps=1e-5)
        self.mlp = nn.Sequential()
        self.mlp.add_module('fc1', nn.Linear(embed_dims,
                                             mlp_ratio * embed_dims))
        self.mlp.add_module('act', nn.GELU())
        self.mlp.add_module('drop1', nn.Dropout(drop))
        self.mlp.add_module('fc2', nn.Linear(mlp_ratio * embed_dims,
                                             embed_dims))
        self.mlp.add_module('drop2', nn.Dropout(drop))

    def forward(self, x: Tensor) -> Tensor:
        y = self.attn(self.norm1(x))
        if self.attn_type == 'D':
            y = y[0]  # the sampled positions are for inspection only
        x = x + self.drop_path(y)
        # LayerNorm straight into a contiguous (B, H, W, C) map, so that each
        # nn.Linear is one addmm with the bias fused; on LayerNorm2d's
        # (B, C, H, W) result, permuted, it would copy its input and add the
        # bias separately.
        y = self.norm2(x.permute(0, 2, 3, 1), data_format='channel_last')
        y = self.mlp(y).permute(0, 3, 1, 2)
        return x + self.drop_path(y)


class DATStage(BaseModule):
    """The blocks of one stage and the downsampling that follows it
    (2x2 stride-2 conv without bias -> LN), if any.

    Shapes:
        - input: (B, C, H, W)
        - output: (B, C, H, W) and, with a downsample, (B, C', H/2, W/2)
    """

    def __init__(self,
                 blocks: List[DATBlock],
                 out_dims: Optional[int] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        self.blocks = nn.ModuleList(blocks)
        in_dims = blocks[0].norm1.normalized_shape[0]
        self.downsample = nn.Sequential(
            nn.Conv2d(in_dims, out_dims, 2, 2, bias=False),
            LayerNorm2d(out_dims, eps=1e-5)) if out_dims else None

    def forward(self, x: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        for block in self.blocks:
            x = block(x)
        if self.downsample is None:
            return x, None
        # odd sizes: pad so the 2x2 patches cover the map (detection inputs)
        down = F.pad(x, (0, x.shape[3] % 2, 0, x.shape[2] % 2))
        return x, self.downsample(down)


@MODELS.register_module()
class DAT(BaseModule):
    """Deformable Attention Transformer backbone (CVPR 2022 version).

    Stem: 4x4 stride-4 conv -> LN; then four stages of blocks with the
    attention types of ``stage_spec`` ([L, S], [L, S], [L, D] x n, [L, D]
    in the released models), each but the last followed by a 2x2 stride-2
    conv -> LN. The authors' classifier puts a LayerNorm on the last map
    before average pooling: that is ``norm3`` here, so
    ``ImageClassifier(DAT, GlobalAveragePooling, LinearClsHead)`` has the
    authors' parameters exactly (DAT-T/S/B: 28,319,138 / 49,700,402 /
    87,881,632 with 1,000 classes).

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'base'`` or a dict with
            the keys of :attr:`arch_zoo` entries.
        img_size (int): Training input size; sizes the deformable blocks'
            relative position tables (``img_size / 4 / 2**i`` per stage).
            Other input sizes work too (windows are padded).
        window_size (int): Window side of ``'L'``/``'S'`` blocks (7 at 224,
            12 for the authors' 384 fine-tuning). Loading a state dict with
            tables of another ``img_size``/``window_size`` resizes them
            bicubically, as the authors' 384 fine-tuning does.
        mlp_ratio (int): MLP expansion. Defaults to 4.
        drop_rate (float): Dropout after projections and in the MLPs.
        attn_drop_rate (float): Dropout on attention weights.
        drop_path_rate (float): Stochastic depth, linear over all blocks.
        out_indices (Sequence[int]): Stages whose outputs are returned, each
            through its own LayerNorm ``norm{i}``.
        frozen_stages (int): Freeze the stem and the first ``frozen_stages``
            stages (with their downsampling and output norms); -1 for none.
        init_cfg (dict | list[dict], optional): Initialisation config.

    Shapes:
        - input: (B, 3, H, W), any H, W
        - output: tuple of (B, dims[i], ceil(H / 2**(i+2)), ...) per
          ``out_indices`` entry.
    """

    #: per variant: dims, depths, heads, groups of the deformable blocks,
    #: stage_spec; the authors' configs/dat_{tiny,small,base}.yaml
    arch_zoo = {
        'tiny':
        dict(
            dims=(96, 192, 384, 768),
            depths=(2, 2, 6, 2),
            heads=(3, 6, 12, 24),
            groups=(-1, -1, 3, 6),
            stage_spec=('LS', 'LS', 'LDLDLD', 'LD')),
        'small':
        dict(
            dims=(96, 192, 384, 768),
            depths=(2, 2, 18, 2),
            heads=(3, 6, 12, 24),
            groups=(-1, -1, 3, 6),
            stage_spec=('LS', 'LS', 'LD' * 9, 'LD')),
        'base':
        dict(
            dims=(128, 256, 512, 1024),
            depths=(2, 2, 18, 2),
            heads=(4, 8, 16, 32),
            groups=(-1, -1, 4, 8),
            stage_spec=('LS', 'LS', 'LD' * 9, 'LD')),
    }
    #: depthwise kernel of the offset network per stage (authors' ksizes)
    offset_kernel_sizes = (9, 7, 5, 3)

    def __init__(self,
                 arch: Union[str, dict] = 'tiny',
                 img_size: int = 224,
                 window_size: int = 7,
                 strides: Sequence[int] = (-1, -1, 1, 1),
                 offset_range_factor: Sequence[float] = (-1, -1, 2, 2),
                 use_pes: Sequence[bool] = (False, False, True, True),
                 mlp_ratio: int = 4,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.2,
                 out_indices: Sequence[int] = (3, ),
                 frozen_stages: int = -1,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg)
        check_arg(self, 'arch', arch, dict, choices=self.arch_zoo)
        check_arg(self, 'img_size', img_size, int, low=1)
        check_arg(self, 'window_size', window_size, int, low=1)
        check_arg(self, 'mlp_ratio', mlp_ratio, float, low=0, low_open=True)
        for name, rate in dict(drop_rate=drop_rate,
                               attn_drop_rate=attn_drop_rate,
                               drop_path_rate=drop_path_rate).items():
            check_arg(self, name, rate, float, low=0, high=1)
        check_arg(self, 'frozen_stages', frozen_stages, int, low=-1)
        if not isinstance(arch, Mapping):
            arch = self.arch_zoo[arch]
        required = {'dims', 'depths', 'heads', 'groups', 'stage_spec'}
        if not isinstance(arch, Mapping) or set(arch) != required:
            raise ValueError(f'arch dict must have exactly the keys '
                             f'{sorted(required)}, got {arch!r}')
        dims, depths = tuple(arch['dims']), tuple(arch['depths'])
        spec = [''.join(s) for s in arch['stage_spec']]
        for i, (d, s) in enumerate(zip(depths, spec)):
            if len(s) != d:
                raise ValueError(f'stage {i}: stage_spec {s!r} has {len(s)} '
                                 f'blocks but depths[{i}] = {d}')
        self.arch = dict(arch)
        if any(not -4 <= i < 4 for i in out_indices):
            raise ValueError(f'out_indices {tuple(out_indices)} outside '
                             '[-4, 4)')
        self.out_indices = tuple(sorted({i % 4 for i in out_indices}))
        self.frozen_stages = frozen_stages

        self.patch_embed = nn.Conv2d(3, dims[0], 4, 4)
        self.patch_norm = LayerNorm2d(dims[0], eps=1e-5)
        dpr = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.stages = nn.ModuleList()
        fmap = img_size // 4
        for i in range(4):
            blocks = []
            for j, kind in enumerate(spec[i]):
                if kind == 'D':
                    attn_cfg = dict(
                        num_heads=arch['heads'][i],
                        groups=arch['groups'][i],
                        offset_kernel_size=self.offset_kernel_sizes[i],
                        offset_stride=strides[i],
                        offset_range_factor=offset_range_factor[i],
                        use_pe=use_pes[i],
                        rpe_size=(fmap, fmap),
                        attn_drop=attn_drop_rate)
                else:
                    attn_cfg = dict(
                        num_heads=arch['heads'][i],
                        window_size=window_size,
                        shift_size=math.ceil(window_size / 2)
                        if kind == 'S' else 0,
                        attn_drop=attn_drop_rate)
                blocks.append(
                    DATBlock(
                        dims[i],
                        kind,
                        attn_cfg,
                        mlp_ratio=mlp_ratio,
                        drop=drop_rate,
                        drop_path=dpr[sum(depths[:i]) + j]))
            self.stages.append(
                DATStage(blocks, dims[i + 1] if i < 3 else None))
            fmap //= 2
        for i in self.out_indices:
            self.add_module(f'norm{i}', LayerNorm2d(dims[i], eps=1e-5))
        self._freeze_stages()

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        x = F.pad(x, (0, (-x.shape[3]) % 4, 0, (-x.shape[2]) % 4))
        x = self.patch_norm(self.patch_embed(x))
        outs = []
        for i, stage in enumerate(self.stages):
            out, x = stage(x)
            if i in self.out_indices:
                outs.append(getattr(self, f'norm{i}')(out))
        return tuple(outs)

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        modules = [self.patch_embed, self.patch_norm]
        for i in range(min(self.frozen_stages, 4)):
            modules.append(self.stages[i])
            if i in self.out_indices:
                modules.append(getattr(self, f'norm{i}'))
        for m in modules:
            m.eval()
            for p in m.parameters():
                p.requires_grad = False

    def train(self, mode: bool = True) -> 'DAT':
        super().train(mode)
        self._freeze_stages()
        return self


# --------------------------------------------------------------------------
# The authors' checkpoints (LeapLabTHU/DAT, Swin's training code: the file
# holds {'model': state_dict, 'optimizer': ..., 'epoch': ..., ...}).
# --------------------------------------------------------------------------

_AUTHORS_RULES = (
    (r'patch_proj\.0\.(weight|bias)$', r'backbone.patch_embed.\1'),
    (r'patch_proj\.1\.norm\.(weight|bias)$', r'backbone.patch_norm.\1'),
    (r'down_projs\.(\d)\.0\.weight$',
     r'backbone.stages.\1.downsample.0.weight'),
    (r'down_projs\.(\d)\.1\.norm\.(weight|bias)$',
     r'backbone.stages.\1.downsample.1.\2'),
    (r'stages\.(\d)\.mlps\.(\d+)\.chunk\.linear([12])\.(weight|bias)$',
     r'backbone.stages.\1.blocks.\2.mlp.fc\3.\4'),
    (r'stages\.(\d)\.attns\.(\d+)\.conv_offset\.1\.norm\.(weight|bias)$',
     r'backbone.stages.\1.blocks.\2.attn.conv_offset.1.\3'),
    (r'stages\.(\d)\.attns\.(\d+)\.((?:conv_offset\.[03]|proj_\w+)\.'
     r'(?:weight|bias)|rpe_table|relative_position_bias_table)$',
     r'backbone.stages.\1.blocks.\2.attn.\3'),
    (r'cls_norm\.norm\.(weight|bias)$', r'backbone.norm3.\1'),
    (r'cls_head\.(weight|bias)$', r'head.fc.\1'),
)
# buffers of the authors' window attention that mmext recomputes
_AUTHORS_BUFFERS = re.compile(
    r'stages\.\d\.attns\.\d+\.(relative_position_index|attn_mask)$')


def checkpoint_filter_fn(
        state_dict: Mapping[str, Tensor]) -> Dict[str, Tensor]:
    """Map the authors' DAT state dict to an mmpretrain ``ImageClassifier``
    with a :class:`DAT` backbone (``out_indices=(3,)``) and a
    ``LinearClsHead``.

    Raises:
        KeyError: a key with no mmext counterpart (e.g. the optional
            ``stages.i.proj`` or a DAT++ checkpoint), naming it.
    """
    out = {}
    for key, value in state_dict.items():
        key = key[len('module.'):] if key.startswith('module.') else key
        if _AUTHORS_BUFFERS.match(key):
            continue
        layer_norm = re.match(r'stages\.(\d)\.layer_norms\.(\d+)\.norm\.'
                              r'(weight|bias)$', key)
        if layer_norm:
            stage, idx, kind = layer_norm.groups()
            block, second = divmod(int(idx), 2)
            out[f'backbone.stages.{stage}.blocks.{block}.'
                f'norm{second + 1}.{kind}'] = value
            continue
        out[rename_by_rules(key, _AUTHORS_RULES,
                            'not a DAT checkpoint of commit 566a593?')] = value
    return out


def infer_arch(state_dict: Mapping[str, Tensor]) -> dict:
    """``arch`` name (or dict), ``num_classes``, ``window_size`` and
    ``img_size`` of an authors' checkpoint, from its tensor shapes."""
    sd = {
        (k[len('module.'):] if k.startswith('module.') else k): v
        for k, v in state_dict.items()
    }
    try:
        dims = tuple(sd[f'stages.{i}.layer_norms.0.norm.weight'].numel()
                     for i in range(4))
        depths = tuple(
            len({
                k.split('.')[3]
                for k in sd if k.startswith(f'stages.{i}.mlps.')
            }) for i in range(4))
        head = sd['cls_head.weight']
        table = sd['stages.0.attns.0.relative_position_bias_table']
    except KeyError as e:
        raise KeyError(f'not a DAT checkpoint: missing {e.args[0]!r}') from e
    heads, groups, spec, rpe = [], [], [], None
    for i in range(4):
        heads.append(sd[f'stages.{i}.attns.0.relative_position_bias_table']
                     .shape[1])
        s, g = '', -1
        for j in range(depths[i]):
            p = f'stages.{i}.attns.{j}.'
            if p + 'conv_offset.0.weight' in sd:
                s += 'D'
                g = dims[i] // sd[p + 'conv_offset.0.weight'].shape[0]
                if p + 'rpe_table' in sd and rpe is None:
                    rpe = (i, sd[p + 'rpe_table'].shape[1])
            elif p + 'attn_mask' in sd:
                s += 'S'
            else:
                s += 'L'
        spec.append(s)
        groups.append(g)
    arch = dict(
        dims=dims,
        depths=depths,
        heads=tuple(heads),
        groups=tuple(groups),
        stage_spec=tuple(spec))
    name = next((n for n, a in DAT.arch_zoo.items()
                 if {k: tuple(v)
                     for k, v in a.items()} == arch), None)
    window = (math.isqrt(table.shape[0]) + 1) // 2
    img_size = 224
    if rpe is not None:
        stage, side = rpe
        img_size = (side + 1) // 2 * 4 * 2**stage
    return dict(
        arch=name or arch,
        num_classes=head.shape[0],
        window_size=window,
        img_size=img_size)
