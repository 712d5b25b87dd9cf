"""So-ViT: Vision Transformer with a second-order head (Xie et al., 2021).

`So-ViT: Mind Visual Tokens for Vision Transformer
<https://arxiv.org/abs/2104.10935>`_; authors' code: jiangtaoxie/So-ViT at
commit c2d076e (``src/so_vit.py``, ``src/model/visualTokens.py``,
``src/model/vitBlock.py``; later commits are the follow-up SoT). A
convolutional stem (a 3x3 conv, max pooling and three ResNet bottlenecks,
total stride 16) turns the image into visual tokens, a class token and a fixed
1-D sinusoidal position table are added, and pre-norm ViT blocks follow. The
classifier (:class:`mmext.models.heads.SoViTHead`) uses both the class token
and the visual tokens.
"""
import math
from functools import partial
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmengine.model import BaseModule, ModuleList
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from mmpretrain.models.backbones.resnet import Bottleneck
from mmpretrain.models.backbones.vision_transformer import \
    TransformerEncoderLayer
from torch import Tensor

from mmext.registry import MODELS
from mmext.utils.converter import strip_prefix
from mmext.utils.validation import check_arg


def sinusoid_table(num_positions: int, dims: int) -> Tensor:
    """1-D sinusoidal position table (Vaswani et al., Sec. 3.5), (1, N, C).

    Row ``p``, columns ``2i`` and ``2i + 1``: ``sin``/``cos`` of
    ``p / 10000^(2i / C)``, as the authors' ``get_sinusoid_encoding``.
    """
    pos = torch.arange(num_positions, dtype=torch.float64).unsqueeze(1)
    expo = torch.div(torch.arange(dims), 2, rounding_mode='floor') * 2 / dims
    angle = pos / torch.pow(10000.0, expo.to(torch.float64))
    table = torch.empty_like(angle)
    table[:, 0::2] = angle[:, 0::2].sin()
    table[:, 1::2] = angle[:, 1::2].cos()
    return table.float().unsqueeze(0)


class ConvTokenStem(BaseModule):
    """Visual-token stem of So-ViT (the authors' ``baseConvModule``).

    3x3 conv (stride 1, with bias) -> 3x3 max pool (stride 2) -> three
    ResNet bottlenecks (256 output channels, stride 2 each, 1x1-conv + BN
    shortcut) -> 1x1 conv (with bias) to ``embed_dims``; total stride 16.

    Args:
        in_channels (int): Image channels.
        embed_dims (int): Token channels C.
        token_channels (int): Channels of the first conv. Defaults to 64.
        norm_cfg (dict): Norm of the bottlenecks' three convs (the authors'
            ``BatchNorm2d(eps=1e-3, momentum=0.01)``).
        shortcut_norm_cfg (dict): Norm of the shortcut convs (the authors'
            default ``BatchNorm2d``).
        init_cfg (dict or list[dict], optional): Initialization config.

    Shapes:
        - input: (B, in_channels, H, W)
        - output: (B, C, H / 16, W / 16) (each side rounded up per stride)
    """

    def __init__(self,
                 in_channels: int,
                 embed_dims: int,
                 token_channels: int = 64,
                 norm_cfg: Dict = dict(type='BN', eps=1e-3, momentum=0.01),
                 shortcut_norm_cfg: Dict = dict(type='BN'),
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.conv = build_conv_layer(
            None, in_channels, token_channels, 3, stride=1, padding=1)
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        blocks = []
        in_ch = token_channels
        for _ in range(3):
            shortcut = nn.Sequential(
                build_conv_layer(None, in_ch, 256, 1, stride=2, bias=False),
                build_norm_layer(shortcut_norm_cfg, 256)[1])
            blocks.append(
                Bottleneck(
                    in_ch,
                    256,
                    expansion=4,
                    stride=2,
                    downsample=shortcut,
                    norm_cfg=norm_cfg))
            in_ch = 256
        self.blocks = nn.Sequential(*blocks)
        self.transition = build_conv_layer(None, 256, embed_dims, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.transition(self.blocks(self.pool(self.conv(x))))


@MODELS.register_module()
class SoViT(BaseBackbone):
    """So-ViT backbone: convolutional visual tokens + ViT blocks.

    Args:
        arch (str | dict): ``'7'``, ``'10'``, ``'14'`` or ``'19'``, or a dict
            with ``embed_dims``, ``num_layers``, ``num_heads`` and
            ``mlp_ratio``. Defaults to ``'14'``.
        img_size (int): Training resolution; sets the length of the stored
            position table (``(img_size / 16)^2 + 1``). Other resolutions
            work: the fixed sinusoidal table is regenerated for their length.
        in_channels (int): Image channels. Defaults to 3.
        token_channels (int): Channels of the stem's first conv.
        out_indices (int | Sequence[int]): Blocks whose outputs are returned.
            Defaults to -1 (the last).
        drop_rate (float): Dropout after the position table, in the
            attention projection and the FFN. Defaults to 0.
        drop_path_rate (float): Stochastic depth, linear over the blocks.
        qkv_bias (bool): Bias of the qkv projection. Defaults to False.
        qk_scale (float, optional): Scale of the attention logits
            ``q k^T``. None (default) is ``head_dims ** -0.5``, as the paper,
            timm and the authors' training and ``--eval_checkpoint`` code.
            The authors' ``pretrained=True`` factories would set
            ``embed_dims ** -0.5`` (a T2T-ViT pattern; the branch cannot run
            at c2d076e, see ``configs/so_vit/README.md``); set it here for
            weights trained with that scale.
        norm_cfg (dict): Norm of the blocks and the final norm (the authors'
            ``nn.LayerNorm``, eps 1e-5).
        stem_norm_cfg (dict): Norm inside the stem's bottlenecks.
        final_norm (bool): Normalise the last block's output. Defaults to
            True.
        frozen_stages (int): Freeze the stem (0) and the first
            ``frozen_stages`` blocks. -1 freezes nothing.
        init_cfg (dict or list[dict], optional): Initialization config;
            defaults to the authors' (truncated normal 0.02 for Linear,
            1/0 for LayerNorm; convs keep PyTorch's default).

    Shapes:
        - input: (B, in_channels, H, W)
        - output: a tuple with, per index of ``out_indices``, the pair
          ``(cls_token (B, C), visual_tokens (B, C, H / 16, W / 16))``.
    """
    arch_zoo = {
        '7': dict(embed_dims=256, num_layers=7, num_heads=4, mlp_ratio=2.),
        '10': dict(embed_dims=256, num_layers=10, num_heads=4, mlp_ratio=2.),
        '14': dict(embed_dims=384, num_layers=14, num_heads=6, mlp_ratio=3.),
        '19': dict(embed_dims=448, num_layers=19, num_heads=7, mlp_ratio=3.),
    }
    num_extra_tokens = 1

    def __init__(self,
                 arch: Union[str, Dict] = '14',
                 img_size: int = 224,
                 in_channels: int = 3,
                 token_channels: int = 64,
                 out_indices: Union[int, Sequence[int]] = -1,
                 drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 qkv_bias: bool = False,
                 qk_scale: Optional[float] = None,
                 norm_cfg: Dict = dict(type='LN', eps=1e-5),
                 stem_norm_cfg: Dict = dict(
                     type='BN', eps=1e-3, momentum=0.01),
                 final_norm: bool = True,
                 frozen_stages: int = -1,
                 init_cfg=[
                     dict(type='TruncNormal', layer='Linear', std=.02,
                          bias=0.),
                     dict(type='Constant', layer='LayerNorm', val=1.,
                          bias=0.)
                 ]):
        super().__init__(init_cfg=init_cfg)
        check_arg(self, 'arch', arch, dict, choices=self.arch_zoo)
        for name, value in dict(img_size=img_size, in_channels=in_channels,
                                token_channels=token_channels).items():
            check_arg(self, name, value, int, low=1)
        check_arg(self, 'drop_rate', drop_rate, float, low=0, high=1)
        check_arg(self, 'drop_path_rate', drop_path_rate, float, low=0, high=1)
        check_arg(self, 'frozen_stages', frozen_stages, int, low=-1)
        if not isinstance(arch, dict):
            arch = self.arch_zoo[arch]
        else:
            essential = {'embed_dims', 'num_layers', 'num_heads', 'mlp_ratio'}
            assert isinstance(arch, dict) and essential <= set(arch), \
                f'Custom arch needs the keys {essential}'
        self.embed_dims = arch['embed_dims']
        self.num_layers = arch['num_layers']

        self.tokens = ConvTokenStem(
            in_channels,
            self.embed_dims,
            token_channels=token_channels,
            norm_cfg=stem_norm_cfg)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, self.embed_dims))
        # Fixed, but a Parameter (requires_grad=False) as in the authors'
        # code: it is part of their checkpoints and parameter counts.
        num_patches = math.ceil(img_size / 16)**2
        self.pos_embed = nn.Parameter(
            sinusoid_table(num_patches + self.num_extra_tokens,
                           self.embed_dims),
            requires_grad=False)
        self.drop_after_pos = nn.Dropout(p=drop_rate)

        if isinstance(out_indices, int):
            out_indices = [out_indices]
        self.out_indices = [
            i + self.num_layers if i < 0 else i for i in out_indices
        ]
        for i in self.out_indices:
            assert 0 <= i < self.num_layers, \
                f'Invalid out_indices {out_indices}'

        dpr = torch.linspace(0, drop_path_rate, self.num_layers).tolist()
        self.layers = ModuleList([
            TransformerEncoderLayer(
                embed_dims=self.embed_dims,
                num_heads=arch['num_heads'],
                feedforward_channels=int(self.embed_dims *
                                         arch['mlp_ratio']),
                drop_rate=drop_rate,
                drop_path_rate=dpr[i],
                qkv_bias=qkv_bias,
                norm_cfg=norm_cfg) for i in range(self.num_layers)
        ])
        if qk_scale is not None:
            if qk_scale <= 0:
                raise ValueError(f'qk_scale must be positive, got {qk_scale}')
            # mmpretrain's MultiheadAttention accepts qk_scale but always
            # uses head_dims ** -0.5, and TransformerEncoderLayer does not
            # pass it on; set the scale of the fused kernel directly.
            for layer in self.layers:
                layer.attn.scaled_dot_product_attention = partial(
                    F.scaled_dot_product_attention, scale=qk_scale)
        self.final_norm = final_norm
        if final_norm:
            self.ln1 = build_norm_layer(norm_cfg, self.embed_dims)[1]

        self.frozen_stages = frozen_stages
        self._freeze_stages()

    def init_weights(self) -> None:
        super().init_weights()
        if isinstance(self.init_cfg, dict) and \
                self.init_cfg.get('type') == 'Pretrained':
            return
        trunc_normal_(self.cls_token, std=.02)
        # TransformerEncoderLayer.init_weights re-initialises its FFN
        # (Xavier); the authors use truncated normal 0.02 for every Linear.
        for m in self.layers.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        frozen = [self.tokens, *self.layers[:self.frozen_stages]]
        if self.frozen_stages >= self.num_layers and self.final_norm:
            frozen.append(self.ln1)
        for m in frozen:
            m.eval()
            for p in m.parameters():
                p.requires_grad = False
        self.cls_token.requires_grad = False

    def _pos_embed(self, num_tokens: int) -> Tensor:
        if num_tokens == self.pos_embed.size(1):
            return self.pos_embed
        return sinusoid_table(num_tokens, self.embed_dims).to(self.pos_embed)

    def forward(self, x: Tensor) -> Tuple[Tuple[Tensor, Tensor], ...]:
        x = self.tokens(x)
        b, c, h, w = x.shape
        x = torch.cat([self.cls_token.expand(b, -1, -1),
                       x.flatten(2).transpose(1, 2)],
                      dim=1)
        x = self.drop_after_pos(x + self._pos_embed(x.size(1)))

        outs: List[Tuple[Tensor, Tensor]] = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i == self.num_layers - 1 and self.final_norm:
                x = self.ln1(x)
            if i in self.out_indices:
                tokens = x[:, 1:].transpose(1, 2).reshape(b, c, h, w)
                outs.append((x[:, 0], tokens))
        return tuple(outs)

    def train(self, mode: bool = True) -> 'SoViT':
        super().train(mode)
        self._freeze_stages()
        return self


# The authors' So_ViT key prefixes (c2d076e) -> mmext ImageClassifier keys,
# matched in order; the first match wins.
_SO_VIT_KEY_MAP = (
    ('visual_tokens.tokens.stem.0.', 'backbone.tokens.conv.'),
    ('visual_tokens.tokens.stage.', 'backbone.tokens.blocks.'),
    ('visual_tokens.tokens.transition.', 'backbone.tokens.transition.'),
    ('cls_token', 'backbone.cls_token'),
    ('pos_embed', 'backbone.pos_embed'),
    ('norm.', 'backbone.ln1.'),
    ('classifier.representation.conv_dr_block.0.0.', 'head.branch1.conv.'),
    ('classifier.representation.conv_dr_block.0.1.', 'head.branch1.bn.'),
    ('classifier.representation.conv_dr_block.1.0.', 'head.branch2.conv.'),
    ('classifier.representation.conv_dr_block.1.1.', 'head.branch2.bn.'),
    ('classifier.normalization.weight', 'head.sv_vector'),
    ('classifier.cls_fc.', 'head.fc_cls.'),
    ('classifier.visual_fc.', 'head.fc_vis.'),
)
# Inside ``blocks.<i>.``: the authors' ViTBlock -> TransformerEncoderLayer.
_SO_VIT_BLOCK_MAP = (
    ('norm1.', 'ln1.'),
    ('attn.qkv.', 'attn.qkv.'),
    ('attn.proj.', 'attn.proj.'),
    ('norm2.', 'ln2.'),
    ('mlp.fc1.', 'ffn.layers.0.0.'),
    ('mlp.fc2.', 'ffn.layers.1.'),
)


def _replace_prefix(key: str, table: Sequence[Tuple[str, str]]) -> str:
    for src, dst in table:
        if key.startswith(src):
            return dst + key[len(src):]
    raise KeyError(key)


def convert_so_vit(state_dict: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """Map the authors' ``So_ViT`` keys (jiangtaoxie/So-ViT c2d076e, the
    ``'ResNet'`` visual tokens and the second-order ``Classifier``) to an
    mmpretrain ``ImageClassifier`` with :class:`SoViT` and
    :class:`mmext.models.heads.SoViTHead`.

    The authors' svPN flattens its ``(C1, C2)`` output row-major, as
    ``SoViTHead`` does, so ``visual_fc`` needs no permutation.
    DataParallel's ``module.`` prefix is dropped.

    Raises:
        KeyError: a key that belongs to no part of the model.
    """
    out = {}
    for key, value in strip_prefix(state_dict).items():
        try:
            if key.startswith('blocks.'):
                _, index, rest = key.split('.', 2)
                new = f'backbone.layers.{index}.' + _replace_prefix(
                    rest, _SO_VIT_BLOCK_MAP)
            else:
                new = _replace_prefix(key, _SO_VIT_KEY_MAP)
        except (KeyError, ValueError):
            raise KeyError(f'unexpected key {key!r} in a So_ViT checkpoint '
                           "(only the authors' 'ResNet' visual tokens and "
                           'second-order classifier are supported)') from None
        out[new] = value
    return out
