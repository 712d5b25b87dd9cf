"""tools/model_converters/dat2mmext.py against a re-creation of the authors'
DAT (LeapLabTHU/DAT at 566a593: ``models/dat.py``, ``models/dat_blocks.py``)
with their module names, persistent buffers and checkpoint layout, written
here independently of mmext (plain ``F.grid_sample``, no mmext modules)."""
import importlib.util
import math
import os.path as osp

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS as PRETRAIN_MODELS

import mmext  # noqa: F401

SCRIPT = osp.join(
    osp.dirname(__file__), '..', '..', 'tools', 'model_converters',
    'dat2mmext.py')
spec = importlib.util.spec_from_file_location('dat2mmext', SCRIPT)
dat2mmext = importlib.util.module_from_spec(spec)
spec.loader.exec_module(dat2mmext)


class LayerNormProxy(nn.Module):

    def __init__(self, dim):
        super().__init__()
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class LocalAttention(nn.Module):

    def __init__(self, dim, heads, ws):
        super().__init__()
        self.heads, self.ws = heads, ws
        self.proj_qkv = nn.Linear(dim, 3 * dim)
        self.proj_out = nn.Linear(dim, dim)
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * ws - 1)**2, heads))
        idx = torch.zeros(ws * ws, ws * ws, dtype=torch.long)
        for a in range(ws * ws):  # slow loop: index of (dy, dx)
            for b in range(ws * ws):
                dy = a // ws - b // ws + ws - 1
                dx = a % ws - b % ws + ws - 1
                idx[a, b] = dy * (2 * ws - 1) + dx
        self.register_buffer('relative_position_index', idx)

    def forward(self, x, mask=None):
        B, C, H, W = x.shape
        ws, h = self.ws, self.heads
        r1, r2 = H // ws, W // ws
        t = x.reshape(B, C, r1, ws, r2, ws).permute(0, 2, 4, 3, 5, 1)
        t = t.reshape(B * r1 * r2, ws * ws, C)
        q, k, v = self.proj_qkv(t).chunk(3, dim=2)
        q, k, v = [
            u.reshape(-1, ws * ws, h, C // h).transpose(1, 2)
            for u in (q * (C // h)**-0.5, k, v)
        ]
        attn = q @ k.transpose(-1, -2)
        bias = self.relative_position_bias_table[
            self.relative_position_index.view(-1)].view(ws * ws, ws * ws, h)
        attn = attn + bias.permute(2, 0, 1)
        if mask is not None:
            nw = mask.shape[0]
            attn = (attn.view(-1, nw, h, ws * ws, ws * ws) +
                    mask[None, :, None]).view(-1, h, ws * ws, ws * ws)
        out = (attn.softmax(-1) @ v).transpose(1, 2).reshape(-1, ws * ws, C)
        out = self.proj_out(out).reshape(B, r1, r2, ws, ws, C)
        return out.permute(0, 5, 1, 3, 2, 4).reshape(B, C, H, W), None, None


class ShiftWindowAttention(LocalAttention):

    def __init__(self, dim, heads, ws, shift, fmap):
        super().__init__(dim, heads, ws)
        self.shift = shift
        region = torch.zeros(fmap, fmap)
        cuts = [0, fmap - ws, fmap - shift, fmap]
        for i in range(3):
            for j in range(3):
                region[cuts[i]:cuts[i + 1], cuts[j]:cuts[j + 1]] = 3 * i + j
        win = region.reshape(fmap // ws, ws, fmap // ws, ws).permute(
            0, 2, 1, 3).reshape(-1, ws * ws)
        mask = (win[:, :, None] != win[:, None, :]).float() * -100.0
        self.register_buffer('attn_mask', mask)

    def forward(self, x):
        s = self.shift
        y, _, _ = super().forward(torch.roll(x, (-s, -s), (2, 3)),
                                  self.attn_mask)
        return torch.roll(y, (s, s), (2, 3)), None, None


def ref_points(h, w):
    ys = (torch.arange(h, dtype=torch.float32) + 0.5) / h * 2 - 1
    xs = (torch.arange(w, dtype=torch.float32) + 0.5) / w * 2 - 1
    return torch.stack(torch.meshgrid(ys, xs, indexing='ij'), -1)


class DAttentionBaseline(nn.Module):

    def __init__(self, fmap, heads, hc, groups, stride, factor, use_pe, k):
        super().__init__()
        nc = heads * hc
        self.heads, self.hc, self.groups, self.factor = heads, hc, groups, \
            factor
        cg = nc // groups
        self.conv_offset = nn.Sequential(
            nn.Conv2d(cg, cg, k, stride, k // 2, groups=cg),
            LayerNormProxy(cg), nn.GELU(), nn.Conv2d(cg, 2, 1, bias=False))
        self.proj_q, self.proj_k, self.proj_v, self.proj_out = [
            nn.Conv2d(nc, nc, 1) for _ in range(4)
        ]
        self.rpe_table = nn.Parameter(
            torch.zeros(heads, 2 * fmap - 1, 2 * fmap - 1)) if use_pe else None

    def forward(self, x):
        B, C, H, W = x.shape
        g = self.groups
        q = self.proj_q(x)
        off = self.conv_offset(q.reshape(B * g, C // g, H, W))
        Hk, Wk = off.shape[2:]
        if self.factor > 0:
            off = off.tanh() * torch.tensor([1 / Hk, 1 / Wk]).view(
                1, 2, 1, 1) * self.factor
        pos = off.permute(0, 2, 3, 1) + ref_points(Hk, Wk)
        xs = F.grid_sample(
            x.reshape(B * g, C // g, H, W),
            pos[..., (1, 0)],
            mode='bilinear',
            align_corners=True).reshape(B, C, 1, Hk * Wk)
        n = Hk * Wk
        q = q.reshape(B * self.heads, self.hc, H * W)
        k = self.proj_k(xs).reshape(B * self.heads, self.hc, n)
        v = self.proj_v(xs).reshape(B * self.heads, self.hc, n)
        attn = torch.einsum('bcm,bcn->bmn', q, k) * self.hc**-0.5
        if self.rpe_table is not None:
            table = self.rpe_table[None].expand(B, -1, -1, -1).reshape(
                B * g, self.heads // g, 2 * H - 1, 2 * W - 1)
            disp = (ref_points(H, W).reshape(1, H * W, 1, 2) -
                    pos.reshape(B * g, 1, n, 2)) * 0.5
            bias = F.grid_sample(
                table, disp[..., (1, 0)], mode='bilinear', align_corners=True)
            attn = attn + bias.reshape(B * self.heads, H * W, n)
        out = torch.einsum('bmn,bcn->bcm', attn.softmax(2), v)
        return self.proj_out(out.reshape(B, C, H, W)), pos, None


class MLP(nn.Module):

    def __init__(self, dim):
        super().__init__()
        self.chunk = nn.Sequential()
        self.chunk.add_module('linear1', nn.Linear(dim, 4 * dim))
        self.chunk.add_module('act', nn.GELU())
        self.chunk.add_module('linear2', nn.Linear(4 * dim, dim))

    def forward(self, x):
        return self.chunk(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class AuthorsStage(nn.Module):

    def __init__(self, fmap, dim, spec, heads, groups, ws, stage_idx):
        super().__init__()
        self.proj = nn.Identity()
        self.layer_norms = nn.ModuleList(
            [LayerNormProxy(dim) for _ in range(2 * len(spec))])
        self.mlps = nn.ModuleList([MLP(dim) for _ in spec])
        self.attns = nn.ModuleList()
        for s in spec:
            if s == 'L':
                self.attns.append(LocalAttention(dim, heads, ws))
            elif s == 'S':
                self.attns.append(
                    ShiftWindowAttention(dim, heads, ws, math.ceil(ws / 2),
                                         fmap))
            else:
                self.attns.append(
                    DAttentionBaseline(fmap, heads, dim // heads, groups, 1,
                                       2, True, (9, 7, 5, 3)[stage_idx]))

    def forward(self, x):
        for d, attn in enumerate(self.attns):
            x = attn(self.layer_norms[2 * d](x))[0] + x
            x = self.mlps[d](self.layer_norms[2 * d + 1](x)) + x
        return x


class AuthorsDAT(nn.Module):

    def __init__(self, img_size, dims, depths, heads, groups, specs, ws,
                 num_classes):
        super().__init__()
        self.patch_proj = nn.Sequential(
            nn.Conv2d(3, dims[0], 4, 4), LayerNormProxy(dims[0]))
        fmap = img_size // 4
        self.stages = nn.ModuleList()
        for i in range(4):
            self.stages.append(
                AuthorsStage(fmap, dims[i], specs[i], heads[i], groups[i], ws,
                             i))
            fmap //= 2
        self.down_projs = nn.ModuleList([
            nn.Sequential(
                nn.Conv2d(dims[i], dims[i + 1], 2, 2, bias=False),
                LayerNormProxy(dims[i + 1])) for i in range(3)
        ])
        self.cls_norm = LayerNormProxy(dims[-1])
        self.cls_head = nn.Linear(dims[-1], num_classes)

    def forward(self, x):
        x = self.patch_proj(x)
        for i in range(4):
            x = self.stages[i](x)
            if i < 3:
                x = self.down_projs[i](x)
        x = self.cls_norm(x).mean((2, 3))
        return self.cls_head(x)


SMALL = dict(
    dims=(16, 32, 64, 128),
    depths=(2, 2, 4, 2),
    heads=(1, 2, 4, 8),
    groups=(-1, -1, 2, 4),
    stage_spec=('LS', 'LS', 'LDLD', 'LD'))


def randomize(model):
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'conv_offset.3' in name:
                p.normal_(0, 2.0)  # large offsets: exercise the sampling
            elif 'norm' in name and name.endswith('weight'):
                p.uniform_(0.5, 1.5)
            else:
                p.normal_(0, 0.1)
    return model.eval()


def authors_model(arch, img_size=64, ws=2, num_classes=10):
    return randomize(
        AuthorsDAT(img_size, arch['dims'], arch['depths'], arch['heads'],
                   arch['groups'], arch['stage_spec'], ws, num_classes))


def save_authors_checkpoint(model, path):
    torch.save(
        {
            'model': model.state_dict(),
            'epoch': 299,
            'max_accuracy': torch.tensor(82.0),
            'optimizer': {}
        }, path)


def build_converted(dst):
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    meta = ckpt['meta']
    backbone = dict(meta['backbone'])
    arch = backbone['arch']
    last = arch['dims'][-1] if isinstance(arch, dict) else (
        1024 if arch == 'base' else 768)
    model = PRETRAIN_MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(backbone, drop_path_rate=0.),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead',
                num_classes=meta['num_classes'],
                in_channels=last)))
    model.load_state_dict(ckpt['state_dict'], strict=True)
    return model.eval(), meta


def test_outputs_match_authors(tmp_path):
    authors = authors_model(SMALL)
    src = str(tmp_path / 'dat_small_test.pth')
    dst = str(tmp_path / 'out' / 'converted.pth')
    save_authors_checkpoint(authors, src)
    assert dat2mmext.main([src, dst]) == 0
    model, meta = build_converted(dst)
    assert meta['backbone'] == dict(
        type='DAT', arch=SMALL, img_size=64, window_size=2)
    assert meta['num_classes'] == 10
    assert meta['source_epoch'] == 299
    assert meta['source_max_accuracy'] == pytest.approx(82.0)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = authors(x)
        got = model(x, mode='tensor')
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_dat_tiny_layout(tmp_path):
    """The real DAT-T layout (224, window 7) converts to ``arch='tiny'``
    with the authors' 28,319,138 parameters and the same outputs."""
    tiny = dict(
        dims=(96, 192, 384, 768),
        depths=(2, 2, 6, 2),
        heads=(3, 6, 12, 24),
        groups=(-1, -1, 3, 6),
        stage_spec=('LS', 'LS', 'LDLDLD', 'LD'))
    authors = authors_model(tiny, img_size=224, ws=7, num_classes=1000)
    assert sum(p.numel() for p in authors.parameters()) == 28_319_138
    src = str(tmp_path / 'dat_tiny_in1k_224.pth')
    save_authors_checkpoint(authors, src)
    dst = str(tmp_path / 'converted.pth')
    meta = dat2mmext.convert(src, dst)
    assert meta['backbone'] == dict(
        type='DAT', arch='tiny', img_size=224, window_size=7)
    model, _ = build_converted(dst)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(
            model(x, mode='tensor'), authors(x), rtol=1e-4, atol=1e-4)


def test_key_mapping():
    from mmext.models.backbones.dat import checkpoint_filter_fn
    sd = authors_model(SMALL).state_dict()
    out = checkpoint_filter_fn({'module.' + k: v for k, v in sd.items()})
    pairs = {
        'patch_proj.1.norm.weight': 'backbone.patch_norm.weight',
        'stages.0.layer_norms.3.norm.bias':
        'backbone.stages.0.blocks.1.norm2.bias',
        'stages.2.attns.1.conv_offset.1.norm.weight':
        'backbone.stages.2.blocks.1.attn.conv_offset.1.weight',
        'stages.2.attns.1.rpe_table': 'backbone.stages.2.blocks.1.attn.'
        'rpe_table',
        'stages.1.mlps.1.chunk.linear2.weight':
        'backbone.stages.1.blocks.1.mlp.fc2.weight',
        'down_projs.2.0.weight': 'backbone.stages.2.downsample.0.weight',
        'cls_norm.norm.bias': 'backbone.norm3.bias',
        'cls_head.weight': 'head.fc.weight',
    }
    for src, dst in pairs.items():
        assert out[dst] is sd[src], src
    assert not any('relative_position_index' in k or 'attn_mask' in k
                   for k in out)


def test_bad_checkpoints(tmp_path, capsys):
    missing = str(tmp_path / 'nope.pth')
    assert dat2mmext.main([missing, str(tmp_path / 'o.pth')]) == 1
    assert 'nope.pth' in capsys.readouterr().err
    bad = tmp_path / 'notes.pth'
    bad.write_text('not weights')
    with pytest.raises(ValueError, match='notes.pth'):
        dat2mmext.convert(str(bad), str(tmp_path / 'o.pth'))
    sd = authors_model(SMALL).state_dict()
    sd['stages.2.attns.1.extra_thing'] = torch.zeros(3)
    src = str(tmp_path / 'extra.pth')
    torch.save({'model': sd}, src)
    with pytest.raises(KeyError, match='extra_thing'):
        dat2mmext.convert(src, str(tmp_path / 'o.pth'))
    plain = {'conv1.weight': torch.zeros(1)}
    src = str(tmp_path / 'plain.pth')
    torch.save(plain, src)
    assert dat2mmext.main([src, str(tmp_path / 'o.pth')]) == 1
    assert 'not a DAT checkpoint' in capsys.readouterr().err
    assert not (tmp_path / 'o.pth').exists()


def test_training_checkpoint_with_yacs_config(tmp_path, capsys,
                                              save_with_yacs_config):
    """A checkpoint of the authors' training code pickles their yacs config;
    it converts without yacs installed, as the released weights do."""
    authors = authors_model(SMALL)
    src = str(tmp_path / 'ckpt_epoch_299.pth')
    save_with_yacs_config(
        {'model': authors.state_dict(), 'epoch': 299, 'max_accuracy': 82.0,
         'lr_scheduler': {'t_initial': 300}, 'optimizer': {}}, src,
        {'MODEL': {'TYPE': 'dat', 'DAT': {'DIM_STEM': 16}}})
    dst = str(tmp_path / 'converted.pth')
    assert dat2mmext.main([src, dst]) == 0, capsys.readouterr().err
    model, meta = build_converted(dst)
    assert meta['source_epoch'] == 299
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(
            model(x, mode='tensor'), authors(x), rtol=1e-4, atol=1e-5)
    with pytest.raises(SystemExit):
        dat2mmext.main(['--help'])
    assert 'yacs need not be installed' in ' '.join(
        capsys.readouterr().out.split())
