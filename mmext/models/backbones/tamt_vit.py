"""TAMT's backbone: a frozen VideoMAE ViT with temporal-aware adapters.

TAMT (Temporal-Aware Model Tuning, CVPR 2025) fine-tunes a VideoMAE ViT-S/16
(16 frames, tubelet 2, so ``T' = 8`` temporal tokens) pretrained on a source
set for cross-domain few-shot action recognition. Only small parts train:

- a temporal-aware adapter (TAA) in the last two blocks, parallel to the MLP
  (:class:`TemporalAwareAdapter`, :class:`TAMTBlock`);
- the output norms and a depthwise temporal convolution that gives the token
  map the GTMT head (:class:`mmext.models.necks.GTMTNeck`) pools.

The backbone is mmaction2's ``VisionTransformer`` (VideoMAE), so VideoMAE
checkpoints load by their content (:func:`videomae_to_mmext`), whatever their
path (the authors' ``load_model`` chooses the format by matching literal
paths).

Facts from the authors' ``network/VideoMAE.py`` (TJU-YDragonW/TAMT):

- the adapter's output is a full feature ``y * gate + 0.1 * shift``, not a
  residual, and it is not zero-initialised;
- drop path stays active in the frozen blocks during fine-tuning;
- the top temporal convolution's output is read back with a plain
  ``reshape`` of its ``(h w, C, T')`` memory as ``(N, C)`` tokens, mixing
  channels and frames (``temporal_layout='authors'``, needed for their
  checkpoints); ``'fixed'`` permutes it back to token order;
- unused parameters of their modules (the adapter's "global kernel" branch
  ``G``, every block's ``temporal_conv`` and ``norm3``) are not built here.
"""
import re
from typing import Dict, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmaction.models.backbones.vit_mae import Block, VisionTransformer
from mmcv.cnn import ConvModule
from mmcv.cnn.bricks import DropPath
from mmengine.logging import MMLogger
from torch import Tensor

from mmext.registry import MODELS
from mmext.utils.converter import load_checkpoint, rename_by_rules
from mmext.utils.validation import check_arg

__all__ = [
    'TemporalAwareAdapter', 'TAMTBlock', 'TAMTViT', 'videomae_to_mmext'
]

TEMPORAL_LAYOUTS = ('authors', 'fixed')


class TemporalAwareAdapter(nn.Module):
    """TAA: a per-frame channel gate and shift from local temporal context.

    ``s = GAP_hw(y)`` ``(B, C, T)``; ``u = ReLU(BN(Conv1d_k3(s)))``
    ``(B, C / r, T)``; ``out = y * sigmoid(W_g u) + shift_scale * W_s u``.

    Args:
        in_channels (int): Token channels ``C``.
        num_segments (int): Temporal tokens ``T``.
        reduction (int): Hidden channels are ``C / reduction``. Defaults
            to 4.
        kernel_size (int): Temporal kernel of the reduction. Defaults to 3.
        shift_scale (float): Weight of the shift. Defaults to 0.1.

    Shapes:
        - input: ``(B, N, C)`` tokens, ``N = T h w`` frame-major.
        - output: ``(B, N, C)``.
    """

    def __init__(self,
                 in_channels: int,
                 num_segments: int,
                 reduction: int = 4,
                 kernel_size: int = 3,
                 shift_scale: float = 0.1) -> None:
        super().__init__()
        hidden = in_channels // reduction
        self.num_segments = num_segments
        self.shift_scale = shift_scale
        self.reduce = ConvModule(
            in_channels,
            hidden,
            kernel_size,
            padding=kernel_size // 2,
            bias=False,
            conv_cfg=dict(type='Conv1d'),
            norm_cfg=dict(type='BN1d'),
            act_cfg=dict(type='ReLU'))
        self.gate = nn.Conv1d(hidden, in_channels, 1, bias=False)
        self.shift = nn.Conv1d(hidden, in_channels, 1, bias=False)

    def forward(self, y: Tensor) -> Tensor:
        b, n, c = y.shape
        y = y.view(b, self.num_segments, n // self.num_segments, c)
        u = self.reduce(y.mean(2).transpose(1, 2))  # (B, C / r, T)
        gate = torch.sigmoid(self.gate(u)).transpose(1, 2).unsqueeze(2)
        shift = self.shift(u).transpose(1, 2).unsqueeze(2)
        return (y * gate + self.shift_scale * shift).view(b, n, c)


class TAMTBlock(Block):
    """A VideoMAE block with a TAA parallel to its MLP (TAMT Eq. 2):
    ``x = x + attn(LN1 x)``; ``x = x + MLP(LN2 x) + TAA(LN2 x)``, both
    branches with their own drop path.

    Args:
        num_segments (int): Temporal tokens ``T`` of the adapter.
        adapter_reduction (int): The adapter's channel reduction.
        adapter_shift_scale (float): The adapter's shift weight.
        **kwargs: mmaction2 ``Block`` arguments (no layer scale).

    Shapes:
        - input / output: ``(B, N, C)``.
    """

    def __init__(self, num_segments: int, adapter_reduction: int,
                 adapter_shift_scale: float, **kwargs) -> None:
        super().__init__(**kwargs)
        embed_dims = kwargs['embed_dims']
        rate = kwargs.get('drop_path_rate', 0.)
        self.adapter = TemporalAwareAdapter(
            embed_dims,
            num_segments,
            reduction=adapter_reduction,
            shift_scale=adapter_shift_scale)
        self.drop_path_adapter = DropPath(rate) if rate > 0 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        y = self.norm2(x)
        return (x + self.drop_path(self.mlp(y)) +
                self.drop_path_adapter(self.adapter(y)))


@MODELS.register_module()
class TAMTViT(VisionTransformer):
    """VideoMAE ViT with TAMT's adapters, temporal convolution and norms.

    Args:
        adapter_indices (Sequence[int]): Blocks with a TAA. Defaults to
            ``(10, 11)`` (the last two of ViT-S, the authors' ``i > 9``).
        adapter_reduction (int): TAA channel reduction. Defaults to 4.
        adapter_shift_scale (float): TAA shift weight. Defaults to 0.1.
        temporal_kernel (int): Kernel of the depthwise temporal convolution
            before ``fc_norm2``. Defaults to 3.
        temporal_layout (str): How that convolution's output is read back:
            ``'authors'`` (default, their reshape; needed by their
            checkpoints) or ``'fixed'`` (token order). See the module notes.
        freeze_pretrained (bool): Train only the adapters, the temporal
            convolution and the two output norms (the authors'). Defaults to
            True.
        init_cfg (dict | list[dict], optional): ``Pretrained`` loads a
            VideoMAE checkpoint in any of its layouts
            (:func:`videomae_to_mmext`) over mmaction2's default random
            initialisation; other configs are passed on.
        **kwargs: mmaction2 ``VisionTransformer`` arguments (ViT-S/16 at
            112 x 112, 16 frames, drop path 0.1 by default here).

    Shapes:
        - input: ``(B, 3, T, H, W)``.
        - output: ``g`` ``(B, C)`` (``fc_norm`` of the token mean) and the
          token map ``(B, C, T', H / p, W / p)`` (``fc_norm2`` of the tokens
          plus their temporal convolution), ``T' = T / tubelet_size``.
    """

    def __init__(self,
                 img_size: int = 112,
                 embed_dims: int = 384,
                 num_heads: int = 6,
                 drop_path_rate: float = 0.1,
                 adapter_indices: Sequence[int] = (10, 11),
                 adapter_reduction: int = 4,
                 adapter_shift_scale: float = 0.1,
                 temporal_kernel: int = 3,
                 temporal_layout: str = 'authors',
                 freeze_pretrained: bool = True,
                 **kwargs) -> None:
        check_arg(self, 'img_size', img_size, int, low=1)
        check_arg(self, 'embed_dims', embed_dims, int, low=1)
        check_arg(self, 'num_heads', num_heads, int, low=1)
        check_arg(self, 'drop_path_rate', drop_path_rate, float, low=0,
                  high=1)
        check_arg(self, 'adapter_indices', adapter_indices, (list, tuple))
        check_arg(self, 'adapter_reduction', adapter_reduction, int, low=1)
        check_arg(self, 'adapter_shift_scale', adapter_shift_scale, float)
        check_arg(self, 'temporal_kernel', temporal_kernel, int, low=1,
                  odd=True)
        check_arg(self, 'temporal_layout', temporal_layout,
                  choices=TEMPORAL_LAYOUTS)
        check_arg(self, 'freeze_pretrained', freeze_pretrained, bool)
        if kwargs.get('init_values', 0.):
            raise ValueError('TAMTViT: init_values (layer scale) is not '
                             'used by VideoMAE ViT-S; expected 0')
        if not kwargs.get('use_mean_pooling', True):
            raise ValueError('TAMTViT: use_mean_pooling must be True (TAMT '
                             'pools the token mean)')
        # a VideoMAE file is loaded by init_weights, after mmaction2's own
        # default initialisation (its keys are not this model's)
        init_cfg = kwargs.get('init_cfg')
        checkpoint = None
        if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
            checkpoint = kwargs.pop('init_cfg')['checkpoint']
        super().__init__(
            img_size=img_size,
            embed_dims=embed_dims,
            num_heads=num_heads,
            drop_path_rate=drop_path_rate,
            **kwargs)
        depth = len(self.blocks)
        for i in adapter_indices:
            check_arg(self, 'adapter_indices[]', i, int, low=0, high=depth - 1)
        self.num_frames = kwargs.get('num_frames', 16)
        self.num_segments = self.num_frames // kwargs.get('tubelet_size', 2)
        self.temporal_layout = temporal_layout
        self.freeze_pretrained = freeze_pretrained
        self.videomae_checkpoint = checkpoint
        self.return_feat_map = True
        # the sinusoid table is fixed: not part of checkpoints (as VideoMAE)
        pos_embed = self.pos_embed
        del self.pos_embed
        self.register_buffer('pos_embed', pos_embed, persistent=False)

        rates = torch.linspace(0, drop_path_rate, depth).tolist()
        for i in adapter_indices:
            self.blocks[i] = TAMTBlock(
                self.num_segments,
                adapter_reduction,
                adapter_shift_scale,
                embed_dims=embed_dims,
                num_heads=num_heads,
                mlp_ratio=kwargs.get('mlp_ratio', 4.),
                qkv_bias=kwargs.get('qkv_bias', True),
                qk_scale=kwargs.get('qk_scale'),
                drop_rate=kwargs.get('drop_rate', 0.),
                attn_drop_rate=kwargs.get('attn_drop_rate', 0.),
                drop_path_rate=rates[i],
                norm_cfg=kwargs.get('norm_cfg', dict(type='LN', eps=1e-6)))
        self.fc_norm2 = nn.LayerNorm(embed_dims, eps=self.fc_norm.eps)
        self.temporal_conv = nn.Conv1d(
            embed_dims,
            embed_dims,
            temporal_kernel,
            padding=temporal_kernel // 2,
            groups=embed_dims)
        if freeze_pretrained:
            trainable = ('fc_norm', 'fc_norm2', 'temporal_conv')
            for name, param in self.named_parameters():
                param.requires_grad = (name.split('.')[0] in trainable
                                       or '.adapter.' in name)

    def init_weights(self) -> None:
        """Random initialisation, then (a ``Pretrained`` ``init_cfg``) the
        VideoMAE weights, recognised by their keys."""
        first = not self._is_init
        super().init_weights()
        if first and self.videomae_checkpoint is not None:
            self.load_videomae(self.videomae_checkpoint)

    def load_videomae(self, path: str) -> None:
        """Load a VideoMAE (or TAMT, or mmext) checkpoint's backbone.

        Raises:
            ValueError: The file holds no VideoMAE backbone, or a tensor has
                another shape than this model's (the message names the file
                and the key).
        """
        state = videomae_to_mmext(load_checkpoint(path), source=path)
        own = self.state_dict()
        for key, value in state.items():
            if key not in own:
                raise ValueError(f'TAMTViT: {path} has the key {key!r} that '
                                 'this backbone lacks')
            if value.shape != own[key].shape:
                raise ValueError(
                    f'TAMTViT: {key!r} of {path} is {tuple(value.shape)}, '
                    f'the backbone (init_cfg.checkpoint) expects '
                    f'{tuple(own[key].shape)}')
        self.load_state_dict(state, strict=False)
        MMLogger.get_current_instance().info(
            f'TAMTViT: loaded {len(state)} of {len(own)} tensors from '
            f'{path}; not in it: '
            f'{sorted({k.split(".")[0] for k in set(own) - set(state)})}')

    def _temporal_mix(self, tokens: Tensor) -> Tensor:
        """Depthwise temporal convolution of ``(B, N, C)`` tokens."""
        b, n, c = tokens.shape
        t = self.num_segments
        y = tokens.view(b, t, n // t, c).permute(0, 2, 3, 1)
        y = self.temporal_conv(y.reshape(b * n // t, c, t))
        if self.temporal_layout == 'authors':
            return y.reshape(b, n, c)
        return y.view(b, n // t, c, t).permute(0, 3, 1, 2).reshape(b, n, c)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        if x.dim() != 5 or x.size(2) != self.num_frames:
            raise ValueError(
                f'TAMTViT: clips {tuple(x.shape)} must be (B, 3, '
                f'{self.num_frames}, H, W) (model.backbone.num_frames); '
                'sample that many frames per clip')
        fmap = super().forward(x)  # (B, C, T', h, w)
        b, c, t, h, w = fmap.shape
        tokens = fmap.flatten(2).transpose(1, 2)  # (B, N, C)
        g = self.fc_norm(tokens.mean(1))
        y = self.fc_norm2(tokens + self._temporal_mix(tokens))
        return g, y.transpose(1, 2).reshape(b, c, t, h, w)


#: VideoMAE / TAMT key -> mmaction2 ``VisionTransformer`` key (first match).
_VIDEOMAE_RULES = (
    (r'patch_embed\.proj\.', 'patch_embed.projection.'),
    (r'(blocks\.\d+)\.mlp\.fc1\.', r'\1.mlp.layers.0.0.'),
    (r'(blocks\.\d+)\.mlp\.fc2\.', r'\1.mlp.layers.1.'),
    (r'(blocks\.\d+)\.tam\.L\.0\.', r'\1.adapter.reduce.conv.'),
    (r'(blocks\.\d+)\.tam\.L\.1\.', r'\1.adapter.reduce.bn.'),
    (r'(blocks\.\d+)\.tam\.L2\.0\.', r'\1.adapter.gate.'),
    (r'(blocks\.\d+)\.tam\.L3\.0\.', r'\1.adapter.shift.'),
    (r'(blocks\.\d+\.(norm1|norm2|attn)\.)', r'\1'),
    (r'(fc_norm2?|temporal_conv)\.', r'\1.'),
    # already mmext's (an mmext checkpoint's backbone)
    (r'(patch_embed\.projection|blocks\.\d+\.(mlp\.layers|adapter))\.',
     r'\1.'),
)
#: Keys of VideoMAE / TAMT files that no mmext module uses: TAMT's dead
#: parameters (adapter ``G``, per-block ``temporal_conv`` and ``norm3``),
#: VideoMAE's classifier, decoder and fixed position table.
_VIDEOMAE_DROPPED = re.compile(
    r'^(blocks\.\d+\.(tam\.G\.|temporal_conv\.|norm3\.)|head\.|decoder|'
    r'encoder_to_decoder|mask_token|pos_embed$|norm\.)')


def _backbone_state(ckpt: Mapping, source: str) -> Dict[str, Tensor]:
    """The backbone's tensors of a VideoMAE (``{'module' | 'model': ...}``,
    ``encoder.`` prefix for self-supervised ones), TAMT (``{'state':
    {'feature.'...}}``) or mmext (``backbone.``) checkpoint."""
    state = ckpt
    for key in ('state_dict', 'state', 'module', 'model'):
        if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
            state = state[key]
            break
    if not isinstance(state, Mapping) or not all(
            isinstance(v, Tensor) for v in state.values()):
        raise ValueError(f'{source} holds no state dict of tensors')
    state = {k[len('module.'):] if k.startswith('module.') else k: v
             for k, v in state.items()}
    for prefix in ('feature.', 'backbone.', 'encoder.'):
        if any(k.startswith(prefix + 'blocks.') for k in state):
            return {k[len(prefix):]: v for k, v in state.items()
                    if k.startswith(prefix)}
    if not any(k.startswith('blocks.') for k in state):
        raise ValueError(
            f'{source} is not a VideoMAE or TAMT checkpoint: no '
            "'blocks.N' keys (with or without a 'feature.', 'backbone.' or "
            "'encoder.' prefix)")
    return dict(state)


def videomae_to_mmext(ckpt: Mapping,
                      source: str = 'checkpoint') -> Dict[str, Tensor]:
    """Map a VideoMAE or TAMT checkpoint onto :class:`TAMTViT`'s keys.

    Args:
        ckpt (Mapping): The loaded file (any layout of
            :func:`_backbone_state`).
        source (str): Its name, for error messages.

    Returns:
        dict: The backbone's tensors under mmext's keys (already mmext keys
        are kept).

    Raises:
        ValueError: Not a VideoMAE / TAMT / mmext backbone.
        KeyError: A key has no counterpart (named in the message).
    """
    out = {}
    for key, value in _backbone_state(ckpt, source).items():
        if not _VIDEOMAE_DROPPED.match(key):
            out[rename_by_rules(key, _VIDEOMAE_RULES,
                                f'{source}, a VideoMAE backbone')] = value
    return out
