"""ACmix-Swin (Pan et al., CVPR 2022), on top of mmpretrain's Swin.

`On the Integration of Self-Attention and Convolution
<https://arxiv.org/abs/2111.14556>`_; authors' code: LeapLabTHU/ACmix
(``Swin-Transformer/models/swin_transformer_acmix.py``).
"""
import math
import re
from typing import Dict, Mapping, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.models.backbones import SwinTransformer
from mmpretrain.models.utils import ShiftWindowMSA
from torch import Tensor

from mmext.registry import MODELS
from mmext.utils.converter import rename_by_rules
from mmext.utils.validation import check_arg
from ..plugins.acmix import shift_conv_path, shift_kernels


class ACmixShiftWindowMSA(BaseModule):
    """(Shifted) window attention of Swin plus ACmix's convolution path.

    The ``qkv`` projection of the window attention runs once on the whole
    (padded, cyclically shifted) map; its heads feed both the window
    attention (relative position bias, shift mask, ``proj``) and the
    convolution path (``fc``: ``3 * heads -> k^2`` with bias, ``dep_conv``:
    shift-initialised grouped convolution without bias), and the result is
    ``rate1 * attention + rate2 * convolution``, shifted back. As in the
    authors' code, the convolution path sees the shifted map.

    Args:
        msa (ShiftWindowMSA): The block's window attention; its ``w_msa``
            (projections, relative position bias), ``drop``, window and shift
            sizes are taken over; its ``pad_small_map`` is not: maps no
            larger than the window are padded and never shifted.
        kernel_conv (int): Kernel size of the convolution path. Defaults
            to 3.
        rate_init (Sequence[float]): Initial ``(rate1, rate2)``; the
            authors' Swin code fills both with 0.5. Defaults to (0.5, 0.5).
        init_cfg (dict, optional): Initialization config.

    Shapes:
        - query: ``(B, H * W, C)`` with ``hw_shape = (H, W)``
        - output: ``(B, H * W, C)``
    """

    def __init__(self,
                 msa: ShiftWindowMSA,
                 kernel_conv: int = 3,
                 rate_init: Sequence[float] = (0.5, 0.5),
                 init_cfg=None) -> None:
        super().__init__(init_cfg)
        self.w_msa = msa.w_msa
        self.drop = msa.drop
        self.window_size = msa.window_size
        self.shift_size = msa.shift_size

        dims, heads = self.w_msa.embed_dims, self.w_msa.num_heads
        self.kernel_conv = kernel_conv
        self.rate_init = tuple(float(r) for r in rate_init)
        self.fc = nn.Conv2d(3 * heads, kernel_conv**2, 1)
        self.dep_conv = nn.Conv2d(
            kernel_conv**2 * (dims // heads),
            dims,
            kernel_conv,
            padding=kernel_conv // 2,
            groups=dims // heads,
            bias=False)
        self.rate1 = nn.Parameter(torch.empty(1))
        self.rate2 = nn.Parameter(torch.empty(1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Shift kernels in ``dep_conv``; ``rate1, rate2 = rate_init``."""
        with torch.no_grad():
            self.rate1.fill_(self.rate_init[0])
            self.rate2.fill_(self.rate_init[1])
            self.dep_conv.weight.copy_(
                shift_kernels(self.kernel_conv, self.dep_conv.out_channels))

    def _window_attention(self, qkv: torch.Tensor,
                          mask: torch.Tensor) -> torch.Tensor:
        # qkv: (nW*B, N, 3C) -> (nW*B, N, C); WindowMSA.forward after qkv.
        msa = self.w_msa
        b_, n, c3 = qkv.shape
        qkv = qkv.reshape(b_, n, 3, msa.num_heads,
                          c3 // (3 * msa.num_heads)).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * msa.scale, qkv[1], qkv[2]
        attn = q @ k.transpose(-2, -1)
        bias = msa.relative_position_bias_table[
            msa.relative_position_index.view(-1)].view(n, n, -1)
        attn = attn + bias.permute(2, 0, 1).unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.view(b_ // nw, nw, msa.num_heads, n, n) + mask[:, None]
            attn = attn.view(-1, msa.num_heads, n, n)
        attn = msa.attn_drop(msa.softmax(attn))
        x = (attn @ v).transpose(1, 2).reshape(b_, n, c3 // 3)
        return msa.proj_drop(msa.proj(x))

    def forward(self, query: torch.Tensor,
                hw_shape: Tuple[int, int]) -> torch.Tensor:
        b, length, c = query.shape
        h, w = hw_shape
        assert length == h * w, f"The query length {length} doesn't match " \
            f'the input shape ({h}, {w}).'
        query = query.view(b, h, w, c)
        ws, shift = self.window_size, self.shift_size
        if min(h, w) <= ws:
            # One window covers the map: no shift, as in the authors' Swin.
            # A smaller map (small inputs, detection) is padded up to the
            # window where the authors' fixed-resolution model would shrink
            # the window.
            shift = 0
        query = F.pad(query, (0, 0, 0, (ws - w % ws) % ws, 0,
                              (ws - h % ws) % ws))
        h_pad, w_pad = query.shape[1:3]
        if shift > 0:
            query = torch.roll(query, shifts=(-shift, -shift), dims=(1, 2))
        mask = ShiftWindowMSA.get_attn_mask((h_pad, w_pad),
                                            window_size=ws,
                                            shift_size=shift,
                                            device=query.device)

        qkv = self.w_msa.qkv(query)  # (B, H', W', 3C)
        heads = self.w_msa.num_heads
        conv_in = qkv.reshape(b, h_pad * w_pad, 3 * heads, c // heads)
        out_conv = shift_conv_path(
            self.fc, self.dep_conv, conv_in, h_pad, w_pad,
            token_major=True).permute(0, 2, 3, 1)

        windows = ShiftWindowMSA.window_partition(qkv, ws)
        windows = windows.view(-1, ws**2, 3 * c)
        out_att = self._window_attention(windows, mask).view(-1, ws, ws, c)
        out_att = ShiftWindowMSA.window_reverse(out_att, h_pad, w_pad, ws)
        x = self.rate1 * out_att + self.rate2 * out_conv
        if shift > 0:
            x = torch.roll(x, shifts=(shift, shift), dims=(1, 2))
        x = x[:, :h, :w, :].reshape(b, h * w, c)
        return self.drop(x)


@MODELS.register_module()
class ACmixSwinTransformer(SwinTransformer):
    """ACmix-Swin backbone: every Swin block's window attention gets
    ACmix's convolution path (:class:`ACmixShiftWindowMSA`).

    Args:
        arch (str | dict): Swin architecture, e.g. ``'tiny'``, ``'small'``.
            Defaults to ``'tiny'``.
        kernel_conv (int): Kernel of the convolution path. Defaults to 3.
        **kwargs: Other arguments of
            :class:`mmpretrain.models.backbones.SwinTransformer`, e.g.
            ``out_indices``, ``frozen_stages``, ``drop_path_rate``,
            ``init_cfg``. ``pad_small_map`` has no effect: maps no larger
            than the window are padded and not shifted.

    Shapes:
        - input: ``(N, 3, H, W)``
        - output: a tuple with one ``(N, C_i, H / 2**(i + 2),
          W / 2**(i + 2))`` map per stage ``i`` in ``out_indices``.
    """

    def __init__(self, arch='tiny', kernel_conv: int = 3, **kwargs) -> None:
        check_arg(self, 'kernel_conv', kernel_conv, int, low=1, odd=True)
        super().__init__(arch=arch, **kwargs)
        for stage in self.stages:
            for block in stage.blocks:
                block.attn = ACmixShiftWindowMSA(
                    block.attn, kernel_conv=kernel_conv)

    def init_weights(self) -> None:
        super().init_weights()
        if (isinstance(self.init_cfg, dict)
                and self.init_cfg['type'] == 'Pretrained'):
            return
        for m in self.modules():
            if isinstance(m, ACmixShiftWindowMSA):
                m.reset_parameters()

    def train(self, mode: bool = True) -> 'ACmixSwinTransformer':
        # mmpretrain's SwinTransformer.train() returns None.
        super().train(mode)
        return self


# The authors' keys (Swin-Transformer/models/swin_transformer_acmix.py, the
# Microsoft Swin layout) -> mmpretrain ImageClassifier keys. Stage and block
# indices are kept; the final norm and the patch-merging layers are handled
# in checkpoint_filter_fn.
_AUTHORS_RULES = [
    (r'patch_embed\.proj\.', 'backbone.patch_embed.projection.'),
    (r'patch_embed\.norm\.', 'backbone.patch_embed.norm.'),
    (r'layers\.(\d+)\.blocks\.(\d+)\.attn\.(qkv|proj|relative_position_)',
     r'backbone.stages.\1.blocks.\2.attn.w_msa.\3'),
    (r'layers\.(\d+)\.blocks\.(\d+)\.attn\.(fc\.(weight|bias)|'
     r'dep_conv\.weight|rate1|rate2)$',
     r'backbone.stages.\1.blocks.\2.attn.\3'),
    (r'layers\.(\d+)\.blocks\.(\d+)\.(norm[12])\.',
     r'backbone.stages.\1.blocks.\2.\3.'),
    (r'layers\.(\d+)\.blocks\.(\d+)\.mlp\.fc1\.',
     r'backbone.stages.\1.blocks.\2.ffn.layers.0.0.'),
    (r'layers\.(\d+)\.blocks\.(\d+)\.mlp\.fc2\.',
     r'backbone.stages.\1.blocks.\2.ffn.layers.1.'),
    (r'head\.', 'head.fc.'),
]
_ATTN_MASK = re.compile(r'layers\.\d+\.blocks\.\d+\.attn_mask$')
_MERGING = re.compile(r'layers\.(\d+)\.downsample\.(reduction\.weight|'
                      r'norm\.weight|norm\.bias)$')


def _strip_module(state_dict: Mapping[str, Tensor]) -> Dict[str, Tensor]:
    return {(k[len('module.'):] if k.startswith('module.') else k): v
            for k, v in state_dict.items()}


def merging_order(channels: int) -> Tensor:
    """Channel permutation from Swin's patch merging to mmpretrain's.

    Swin concatenates the 2x2 neighbours as ``[x(0,0), x(1,0), x(0,1),
    x(1,1)]`` (position-major: ``(i + 2 j) * C + c``); mmpretrain's
    ``PatchMerging`` unfolds them channel-major (``4 c + 2 i + j``).

    Args:
        channels (int): ``C``, the channels before merging.

    Returns:
        Tensor: ``(4 C,)`` long; mmpretrain's channel ``m`` is Swin's
        channel ``order[m]``.
    """
    c, i, j = torch.meshgrid(
        torch.arange(channels), torch.arange(2), torch.arange(2),
        indexing='ij')
    return ((i + 2 * j) * channels + c).flatten()


def checkpoint_filter_fn(
        state_dict: Mapping[str, Tensor]) -> Dict[str, Tensor]:
    """Map the authors' ACmix-Swin state dict to an mmpretrain
    ``ImageClassifier`` with an :class:`ACmixSwinTransformer` backbone
    (default ``out_indices``: the last stage), a ``GlobalAveragePooling``
    neck and a ``LinearClsHead``.

    The shifted blocks' ``attn_mask`` buffers are dropped (mmext computes
    the mask per input size); the patch-merging ``norm`` and ``reduction``
    are permuted to mmpretrain's channel order (:func:`merging_order`).

    Raises:
        KeyError: a key with no mmext counterpart (e.g. a ``dep_conv.bias``,
            which the authors' model does not have, or an absolute position
            embedding), naming it.
    """
    state_dict = _strip_module(state_dict)
    num_stages = 1 + max(
        (int(m.group(1)) for m in map(re.compile(r'layers\.(\d+)\.').match,
                                      state_dict) if m),
        default=-1)
    out = {}
    for key, value in state_dict.items():
        if _ATTN_MASK.match(key):
            continue
        merging = _MERGING.match(key)
        if merging:
            stage, name = merging.groups()
            order = merging_order(value.shape[-1] // 4)
            value = value[:, order] if value.dim() == 2 else value[order]
            out[f'backbone.stages.{stage}.downsample.{name}'] = value
            continue
        if key in ('norm.weight', 'norm.bias'):
            out[f'backbone.norm{num_stages - 1}.{key[5:]}'] = value
            continue
        out[rename_by_rules(
            key, _AUTHORS_RULES,
            'not an ACmix-Swin checkpoint of LeapLabTHU/ACmix?')] = value
    return out


def infer_arch(state_dict: Mapping[str, Tensor]) -> dict:
    """Backbone arguments and ``num_classes`` of an authors' checkpoint,
    from its tensor shapes.

    Returns:
        dict: ``arch`` (``'tiny'``/``'small'`` or a dict of ``embed_dims``,
        ``depths``, ``num_heads``), ``patch_size``, ``window_size``,
        ``img_size`` (from the first shifted block's mask; 224 without
        one), ``out_indices`` (the last stage) and ``num_classes``.

    Raises:
        KeyError: a tensor every ACmix-Swin checkpoint has is missing.
    """
    sd = _strip_module(state_dict)
    try:
        proj = sd['patch_embed.proj.weight']
        num_classes = sd['head.weight'].shape[0]
        table = sd['layers.0.blocks.0.attn.relative_position_bias_table']
    except KeyError as e:
        raise KeyError('not an ACmix-Swin checkpoint: missing '
                       f'{e.args[0]!r}') from e
    depths, num_heads, i = [], [], 0
    while f'layers.{i}.blocks.0.norm1.weight' in sd:
        depths.append(
            len({
                k.split('.')[3]
                for k in sd if k.startswith(f'layers.{i}.blocks.')
            }))
        num_heads.append(sd[f'layers.{i}.blocks.0.attn.'
                            'relative_position_bias_table'].shape[1])
        i += 1
    arch = dict(
        embed_dims=proj.shape[0], depths=depths, num_heads=num_heads)
    zoo = SwinTransformer.arch_zoo
    name = next((n for n in ('tiny', 'small', 'base', 'large')
                 if {k: zoo[n][k] for k in arch} == arch), None)
    window = (math.isqrt(table.shape[0]) + 1) // 2
    img_size = 224
    mask = sd.get('layers.0.blocks.1.attn_mask')
    if mask is not None:
        img_size = math.isqrt(mask.shape[0]) * window * proj.shape[-1]
    return dict(
        arch=name or arch,
        patch_size=proj.shape[-1],
        window_size=window,
        img_size=img_size,
        out_indices=(len(depths) - 1, ),
        num_classes=num_classes)
