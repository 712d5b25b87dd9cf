"""tools/model_converters/acmix2mmext.py against a re-creation of the
authors' ACmix-Swin (LeapLabTHU/ACmix,
``Swin-Transformer/models/swin_transformer_acmix.py``) with their module
names, persistent buffers and checkpoint layout, written here independently
of mmext and mmpretrain (explicit window loops, no mmext modules)."""
import importlib.util
import os.path as osp

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS as PRETRAIN_MODELS

import mmext  # noqa: F401

SCRIPT = osp.join(
    osp.dirname(__file__), '..', '..', 'tools', 'model_converters',
    'acmix2mmext.py')
spec = importlib.util.spec_from_file_location('acmix2mmext', SCRIPT)
acmix2mmext = importlib.util.module_from_spec(spec)
spec.loader.exec_module(acmix2mmext)


def windows(x, ws):
    """(B, H, W, C) -> (B * nW, ws * ws, C), windows in raster order."""
    b, h, w, c = x.shape
    x = x.reshape(b, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, ws * ws, c)


def unwindows(x, ws, b, h, w):
    x = x.reshape(b, h // ws, w // ws, ws, ws, -1).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h, w, -1)


class WindowAttentionACmix(nn.Module):
    """``WindowAttention_acmix``: Swin's window attention plus the
    ``fc`` (3 heads -> 9 maps) and ``dep_conv`` (its bias set to None by the
    authors' ``reset_parameters``) convolution path."""

    def __init__(self, dim, ws, heads):
        super().__init__()
        self.ws, self.heads = ws, heads
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * ws - 1)**2, heads))
        idx = torch.zeros(ws * ws, ws * ws, dtype=torch.long)
        for a in range(ws * ws):  # slow loop: index of (dy, dx)
            for b in range(ws * ws):
                dy = a // ws - b // ws + ws - 1
                dx = a % ws - b % ws + ws - 1
                idx[a, b] = dy * (2 * ws - 1) + dx
        self.register_buffer('relative_position_index', idx)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.fc = nn.Conv2d(3 * heads, 9, 1)
        self.dep_conv = nn.Conv2d(
            9 * dim // heads, dim, 3, padding=1, groups=dim // heads,
            bias=False)
        self.rate1 = nn.Parameter(torch.zeros(1))
        self.rate2 = nn.Parameter(torch.zeros(1))

    def forward(self, x, mask):
        b, h, w, c = x.shape
        ws, nh = self.ws, self.heads
        d = c // nh
        qkv = self.qkv(x)
        # convolution path: per channel t of a head, fc over the 3 * heads
        # maps, then the 9 maps of channel t feed group t of dep_conv.
        maps = qkv.reshape(b, h * w, 3 * nh, d).permute(0, 2, 1, 3)
        f = torch.einsum('om,bmpt->btop', self.fc.weight[:, :, 0, 0], maps)
        f = f + self.fc.bias.view(1, 1, 9, 1)
        out_conv = self.dep_conv(f.reshape(b, d * 9, h, w)).permute(
            0, 2, 3, 1)
        # attention path
        win = windows(qkv, ws)
        q, k, v = win.reshape(-1, ws * ws, 3, nh, d).permute(2, 0, 3, 1, 4)
        attn = (q * d**-0.5) @ k.transpose(-1, -2)
        bias = self.relative_position_bias_table[self.relative_position_index]
        attn = attn + bias.permute(2, 0, 1)
        if mask is not None:
            nw = mask.shape[0]
            attn = (attn.view(-1, nw, nh, ws * ws, ws * ws) +
                    mask[None, :, None]).view(-1, nh, ws * ws, ws * ws)
        out = (attn.softmax(-1) @ v).transpose(1, 2).reshape(-1, ws * ws, c)
        out_att = unwindows(self.proj(out), ws, b, h, w)
        return self.rate1 * out_att + self.rate2 * out_conv


class Mlp(nn.Module):

    def __init__(self, dim):
        super().__init__()
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.fc2 = nn.Linear(4 * dim, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class SwinTransformerBlock(nn.Module):

    def __init__(self, dim, res, heads, ws, shift):
        super().__init__()
        self.res = res
        if res <= ws:  # the authors' rule for maps no larger than a window
            ws, shift = res, 0
        self.ws, self.shift = ws, shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttentionACmix(dim, ws, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim)
        mask = None
        if shift:
            region = torch.zeros(res, res)
            cuts = [0, res - ws, res - shift, res]
            for i in range(3):
                for j in range(3):
                    region[cuts[i]:cuts[i + 1], cuts[j]:cuts[j + 1]] = \
                        3 * i + j
            win = windows(region[None, :, :, None], ws)[..., 0]
            mask = (win[:, :, None] != win[:, None, :]).float() * -100.0
        self.register_buffer('attn_mask', mask)

    def forward(self, x):
        b, _, c = x.shape
        s = self.shift
        y = self.norm1(x).view(b, self.res, self.res, c)
        y = torch.roll(y, (-s, -s), (1, 2))
        y = torch.roll(self.attn(y, self.attn_mask), (s, s), (1, 2))
        x = x + y.reshape(b, -1, c)
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):

    def __init__(self, res, dim):
        super().__init__()
        self.res = res
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, x):
        b, _, c = x.shape
        x = x.view(b, self.res, self.res, c)
        x = torch.cat([
            x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2],
            x[:, 1::2, 1::2]
        ], -1)
        return self.reduction(self.norm(x.view(b, -1, 4 * c)))


class BasicLayer(nn.Module):

    def __init__(self, dim, res, depth, heads, ws, last):
        super().__init__()
        self.blocks = nn.ModuleList([
            SwinTransformerBlock(dim, res, heads, ws, ws // 2 if i % 2 else 0)
            for i in range(depth)
        ])
        self.downsample = None if last else PatchMerging(res, dim)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return x if self.downsample is None else self.downsample(x)


class PatchEmbed(nn.Module):

    def __init__(self, dim, patch):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, patch, patch)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        return self.norm(self.proj(x).flatten(2).transpose(1, 2))


class AuthorsSwinACmix(nn.Module):
    """``SwinTransformer_acmix`` (ape=False, patch_norm=True)."""

    def __init__(self, img_size, dim, depths, heads, ws, num_classes,
                 patch=4):
        super().__init__()
        self.patch_embed = PatchEmbed(dim, patch)
        res = img_size // patch
        self.layers = nn.ModuleList()
        for i, (depth, nh) in enumerate(zip(depths, heads)):
            self.layers.append(
                BasicLayer(dim * 2**i, res // 2**i, depth, nh, ws,
                           i == len(depths) - 1))
        last = dim * 2**(len(depths) - 1)
        self.norm = nn.LayerNorm(last)
        self.head = nn.Linear(last, num_classes)

    def forward(self, x):
        x = self.patch_embed(x)
        for layer in self.layers:
            x = layer(x)
        return self.head(self.norm(x).mean(1))


def authors_model(img_size=32, dim=12, depths=(2, 2, 2), heads=(3, 6, 12),
                  ws=2, num_classes=10):
    torch.manual_seed(0)
    model = AuthorsSwinACmix(img_size, dim, depths, heads, ws, num_classes)
    with torch.no_grad():  # every tensor random, so misplacements show
        for name, p in model.named_parameters():
            if 'norm' in name and name.endswith('weight'):
                p.uniform_(0.5, 1.5)
            else:
                p.normal_(0, 0.2)
    return model.eval()


def save_authors_checkpoint(model, path):
    torch.save(
        {
            'model': model.state_dict(),
            'epoch': 299,
            'max_accuracy': torch.tensor(81.9),
            'optimizer': {},
        }, path)


def build_converted(dst):
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    meta = ckpt['meta']
    backbone = meta['backbone']
    arch = backbone['arch']
    dims = (arch['embed_dims'] * 2**(len(arch['depths']) - 1)
            if isinstance(arch, dict) else 768)
    # earlier tests may leave another default scope current
    init_default_scope('mmpretrain')
    model = PRETRAIN_MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(backbone, drop_path_rate=0.),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead',
                num_classes=meta['num_classes'],
                in_channels=dims)))
    model.load_state_dict(ckpt['state_dict'], strict=True)
    return model.eval(), meta, ckpt['state_dict']


def test_outputs_match_authors(tmp_path):
    authors = authors_model()
    src = str(tmp_path / 'acmix_swin_test.pth')
    dst = str(tmp_path / 'out' / 'converted.pth')
    save_authors_checkpoint(authors, src)
    assert acmix2mmext.main([src, dst]) == 0
    model, meta, _ = build_converted(dst)
    assert meta['backbone'] == dict(
        type='ACmixSwinTransformer',
        arch=dict(embed_dims=12, depths=[2, 2, 2], num_heads=[3, 6, 12]),
        patch_size=4,
        window_size=2,
        img_size=32,
        out_indices=(2, ))
    assert meta['num_classes'] == 10
    assert meta['source_epoch'] == 299
    assert meta['source_max_accuracy'] == pytest.approx(81.9)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(
            model(x, mode='tensor'), authors(x), rtol=1e-4, atol=1e-5)


def test_detection_backbone_loads_converted(tmp_path):
    """The detection configs' route: a multi-scale ACmixSwinTransformer
    with ``init_cfg=Pretrained(prefix='backbone.')`` takes every converted
    backbone tensor (rates and shift kernels are not re-initialised); only
    the extra output norms keep their initialisation."""
    from mmext.models.backbones import ACmixSwinTransformer
    src = str(tmp_path / 'acmix_swin_test.pth')
    dst = str(tmp_path / 'converted.pth')
    save_authors_checkpoint(authors_model(), src)
    meta = acmix2mmext.convert(src, dst)
    converted = torch.load(dst, weights_only=True)['state_dict']
    cfg = dict(meta['backbone'], out_indices=(0, 1, 2))
    cfg.pop('type')
    backbone = ACmixSwinTransformer(
        **cfg,
        init_cfg=dict(type='Pretrained', checkpoint=dst, prefix='backbone.'))
    backbone.init_weights()
    state = backbone.state_dict()
    loaded = {k[len('backbone.'):]: v
              for k, v in converted.items() if k.startswith('backbone.')}
    assert set(state) - set(loaded) == {
        'norm0.weight', 'norm0.bias', 'norm1.weight', 'norm1.bias'}
    for key, value in loaded.items():
        assert torch.equal(state[key], value), key
    outs = backbone.eval()(torch.randn(1, 3, 40, 56))
    assert [tuple(o.shape) for o in outs] == [(1, 12, 10, 14),
                                              (1, 24, 5, 7), (1, 48, 3, 4)]


def test_acmix_swin_tiny_layout(tmp_path):
    """The released ACmix-Swin-T layout (224, window 7, 1,000 classes)
    converts to ``arch='tiny'`` with the authors' 28,649,908 parameters and
    the same outputs."""
    authors = authors_model(
        img_size=224, dim=96, depths=(2, 2, 6, 2), heads=(3, 6, 12, 24),
        ws=7, num_classes=1000)
    assert sum(p.numel() for p in authors.parameters()) == 28_649_908
    src = str(tmp_path / 'acmix_swin_tiny.pth')
    save_authors_checkpoint(authors, src)
    dst = str(tmp_path / 'converted.pth')
    meta = acmix2mmext.convert(src, dst)
    assert meta['backbone'] == dict(
        type='ACmixSwinTransformer',
        arch='tiny',
        patch_size=4,
        window_size=7,
        img_size=224,
        out_indices=(3, ))
    model, _, _ = build_converted(dst)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(
            model(x, mode='tensor'), authors(x), rtol=1e-4, atol=1e-4)


def test_every_tensor_lands_once():
    """Each authors' tensor appears at its mmext key, with the patch-merging
    channels reordered, and nothing else does."""
    from mmext.models.backbones.acmix_swin import checkpoint_filter_fn
    sd = authors_model().state_dict()
    out = checkpoint_filter_fn({'module.' + k: v for k, v in sd.items()})
    pairs = {
        'patch_embed.proj.weight': 'backbone.patch_embed.projection.weight',
        'layers.1.blocks.1.attn.qkv.bias':
        'backbone.stages.1.blocks.1.attn.w_msa.qkv.bias',
        'layers.0.blocks.1.attn.relative_position_bias_table':
        'backbone.stages.0.blocks.1.attn.w_msa.relative_position_bias_table',
        'layers.2.blocks.0.attn.fc.weight':
        'backbone.stages.2.blocks.0.attn.fc.weight',
        'layers.2.blocks.1.attn.dep_conv.weight':
        'backbone.stages.2.blocks.1.attn.dep_conv.weight',
        'layers.0.blocks.0.attn.rate2': 'backbone.stages.0.blocks.0.attn.'
        'rate2',
        'layers.1.blocks.0.mlp.fc1.weight':
        'backbone.stages.1.blocks.0.ffn.layers.0.0.weight',
        'layers.1.blocks.0.mlp.fc2.bias':
        'backbone.stages.1.blocks.0.ffn.layers.1.bias',
        'norm.weight': 'backbone.norm2.weight',
        'head.bias': 'head.fc.bias',
    }
    for src, dst in pairs.items():
        assert out[dst] is sd[src], src
    # Patch merging: mmpretrain's unfold puts the 2x2 neighbours of channel
    # c at 4c + 2i + j; the authors' concat at (i + 2j) C + c.
    c = 12
    w = sd['layers.0.downsample.reduction.weight']
    got = out['backbone.stages.0.downsample.reduction.weight']
    for ch in range(c):
        for i in range(2):
            for j in range(2):
                torch.testing.assert_close(got[:, 4 * ch + 2 * i + j],
                                           w[:, (i + 2 * j) * c + ch])
                assert out['backbone.stages.0.downsample.norm.bias'][
                    4 * ch + 2 * i + j] == sd['layers.0.downsample.norm.bias'][
                        (i + 2 * j) * c + ch]
    # Shifted blocks' masks are dropped; everything else is mapped once.
    masks = [k for k in sd if k.endswith('attn_mask')]
    assert masks
    assert len(out) == len(sd) - len(masks)
    assert sum(v.numel() for v in out.values()) == sum(
        sd[k].numel() for k in sd if k not in masks)


def test_bad_checkpoints(tmp_path, capsys):
    missing = str(tmp_path / 'nope.pth')
    assert acmix2mmext.main([missing, str(tmp_path / 'o.pth')]) == 1
    assert 'nope.pth' in capsys.readouterr().err
    bad = tmp_path / 'notes.pth'
    bad.write_text('not weights')
    with pytest.raises(ValueError, match='notes.pth'):
        acmix2mmext.convert(str(bad), str(tmp_path / 'o.pth'))
    sd = authors_model().state_dict()
    sd['layers.1.blocks.0.attn.dep_conv.bias'] = torch.zeros(24)
    src = str(tmp_path / 'extra.pth')
    torch.save({'model': sd}, src)
    with pytest.raises(KeyError, match='dep_conv.bias'):
        acmix2mmext.convert(src, str(tmp_path / 'o.pth'))
    src = str(tmp_path / 'plain.pth')
    torch.save({'conv1.weight': torch.zeros(1)}, src)
    assert acmix2mmext.main([src, str(tmp_path / 'o.pth')]) == 1
    assert 'not an ACmix-Swin checkpoint' in capsys.readouterr().err
    assert not (tmp_path / 'o.pth').exists()


def test_training_checkpoint_with_yacs_config(tmp_path, capsys,
                                              save_with_yacs_config):
    """A checkpoint of the authors' (Swin) training code pickles their yacs
    config; it converts without yacs installed, as the released weights
    do."""
    authors = authors_model()
    src = str(tmp_path / 'ckpt_epoch_299.pth')
    save_with_yacs_config(
        {'model': authors.state_dict(), 'epoch': 299, 'max_accuracy': 81.9,
         'lr_scheduler': {'t_initial': 300}, 'optimizer': {}}, src,
        {'MODEL': {'TYPE': 'swin_acmix', 'SWIN': {'EMBED_DIM': 12}}})
    dst = str(tmp_path / 'converted.pth')
    assert acmix2mmext.main([src, dst]) == 0, capsys.readouterr().err
    model, meta, _ = build_converted(dst)
    assert meta['source_epoch'] == 299
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(
            model(x, mode='tensor'), authors(x), rtol=1e-4, atol=1e-5)
    with pytest.raises(SystemExit):
        acmix2mmext.main(['--help'])
    assert 'yacs need not be installed' in ' '.join(
        capsys.readouterr().out.split())
