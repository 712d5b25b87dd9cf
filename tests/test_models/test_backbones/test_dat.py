"""DAT backbone (mmext.models.backbones.dat). Equality with the authors'
model is checked in tests/test_tools/test_dat2mmext.py (a re-creation of
their code with their key names); here: parameter counts, shapes at odd
sizes, window attention with padding against a slow loop, the deformable
attention's offsets and gradients, freezing."""
import math

import pytest
import torch
from mmpretrain.registry import MODELS as PRETRAIN_MODELS

import mmext  # noqa: F401  (registers DAT)
from mmext.models.backbones import DAT
from mmext.models.backbones.dat import (DeformableAttention, WindowAttention,
                                        reference_points)

SMALL = dict(
    dims=(16, 32, 64, 128),
    depths=(2, 2, 2, 2),
    heads=(1, 2, 4, 8),
    groups=(-1, -1, 2, 4),
    stage_spec=('LS', 'LS', 'LD', 'LD'))


@pytest.mark.parametrize('arch,channels,count', [
    ('tiny', 768, 28_319_138),
    ('small', 768, 49_700_402),
    ('base', 1024, 87_881_632),
])
def test_parameter_count(arch, channels, count):
    model = PRETRAIN_MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='DAT', arch=arch),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead', num_classes=1000,
                in_channels=channels)))
    assert sum(p.numel() for p in model.parameters()) == count


def test_arch_tables():
    tiny = DAT('tiny')
    specs = [''.join(b.attn_type for b in s.blocks) for s in tiny.stages]
    assert specs == ['LS', 'LS', 'LDLDLD', 'LD']
    d = tiny.stages[2].blocks[1].attn
    assert isinstance(d, DeformableAttention)
    assert d.conv_offset[0].kernel_size == (5, 5)
    assert d.groups == 3 and d.num_heads == 12
    assert d.rpe_table.shape == (12, 27, 27)
    assert tiny.stages[3].blocks[1].attn.conv_offset[0].kernel_size == (3, 3)
    s = tiny.stages[0].blocks[1].attn
    assert isinstance(s, WindowAttention) and s.shift_size == 4
    base = DAT('base', img_size=384, window_size=12)
    assert base.stages[2].blocks[1].attn.rpe_table.shape == (16, 47, 47)
    assert base.stages[0].blocks[1].attn.shift_size == 6
    with pytest.raises(ValueError, match='unknown arch'):
        DAT('huge')
    with pytest.raises(ValueError, match='exactly the keys'):
        DAT(dict(dims=(1, 2, 3, 4)))
    with pytest.raises(ValueError, match='stage_spec'):
        DAT(dict(SMALL, stage_spec=('L', 'LS', 'LD', 'LD')))
    with pytest.raises(ValueError, match='out_indices'):
        DAT(SMALL, out_indices=(4, ))


@pytest.mark.parametrize('size', [(64, 64), (37, 53)])
def test_multiscale_outputs_odd_sizes(size):
    torch.manual_seed(0)
    model = DAT(SMALL, img_size=64, window_size=4, out_indices=(0, 1, 2, 3))
    x = torch.randn(2, 3, *size, requires_grad=True)
    outs = model(x)
    h, w = math.ceil(size[0] / 4), math.ceil(size[1] / 4)
    shapes = []
    for c in SMALL['dims']:
        shapes.append((2, c, h, w))
        h, w = math.ceil(h / 2), math.ceil(w / 2)
    assert [tuple(o.shape) for o in outs] == shapes
    sum(o.mean() for o in outs).backward()
    assert torch.isfinite(x.grad).all()
    for name, p in model.named_parameters():
        assert p.grad is not None, name


def slow_window_attention(attn, x):
    """Unshifted window attention by explicit loops (pads bottom/right)."""
    B, C, H, W = x.shape
    ws, nh = attn.window_size, attn.num_heads
    hp, wp = -(-H // ws) * ws, -(-W // ws) * ws
    xp = torch.zeros(B, C, hp, wp)
    xp[:, :, :H, :W] = x
    out = torch.zeros(B, C, hp, wp)
    table = attn.relative_position_bias_table
    hd = C // nh
    for b in range(B):
        for wy in range(0, hp, ws):
            for wx in range(0, wp, ws):
                coords = [(wy + i, wx + j) for i in range(ws)
                          for j in range(ws)]
                tok = torch.stack([xp[b, :, y, x_] for y, x_ in coords])
                q, k, v = attn.proj_qkv(tok).split(C, dim=1)
                res = torch.zeros(len(coords), C)
                for h in range(nh):
                    sl = slice(h * hd, (h + 1) * hd)
                    logits = torch.zeros(len(coords), len(coords))
                    for m, (ym, xm) in enumerate(coords):
                        for n, (yn, xn) in enumerate(coords):
                            idx = (ym - yn + ws - 1) * (2 * ws - 1) + (
                                xm - xn + ws - 1)
                            logits[m, n] = (q[m, sl] @ k[n, sl]) * hd**-0.5 \
                                + table[idx, h]
                    res[:, sl] = logits.softmax(-1) @ v[:, sl]
                res = attn.proj_out(res)
                for m, (y, x_) in enumerate(coords):
                    out[b, :, y, x_] = res[m]
    return out[:, :, :H, :W]


def test_window_attention_padding_matches_loop():
    torch.manual_seed(1)
    attn = WindowAttention(8, 2, 3).eval()
    torch.nn.init.normal_(attn.relative_position_bias_table, std=0.5)
    x = torch.randn(1, 8, 5, 7)
    with torch.no_grad():
        torch.testing.assert_close(
            attn(x), slow_window_attention(attn, x), rtol=1e-4, atol=1e-5)


def test_shifted_window_no_cross_region_mixing():
    """Shifted attention on an exact multiple: a token in the top-left
    region never attends to the wrapped-around bottom/right tokens."""
    torch.manual_seed(2)
    attn = WindowAttention(4, 1, 4, shift_size=2).eval()
    x = torch.randn(1, 4, 8, 8, requires_grad=True)
    y = attn(x)
    # output at (0, 0) sits in the rolled window that also holds the wrapped
    # last two rows/cols; they are masked, so they get no gradient from it
    y[0, :, 0, 0].sum().backward()
    # masked by -100: weights exp(-100) relative, i.e. ~1e-44
    assert x.grad[0, :, 6:, :].abs().max() < 1e-30
    assert x.grad[0, :, :, 6:].abs().max() < 1e-30
    assert x.grad[0, :, :2, :2].abs().sum() > 0


def test_deformable_offsets_and_gradients():
    torch.manual_seed(3)
    attn = DeformableAttention(
        16, 4, 2, offset_kernel_size=3, offset_range_factor=2.,
        rpe_size=(6, 6))
    torch.nn.init.normal_(attn.rpe_table, std=0.5)
    x = torch.randn(2, 16, 6, 6)
    out, pos, ref = attn(x)
    assert out.shape == (2, 16, 6, 6)
    assert pos.shape == ref.shape == (2, 2, 6, 6, 2)
    # Eq. (8): |offset| <= s / Hk in normalised units (per axis)
    assert ((pos - ref).abs() <= 2 / 6 + 1e-6).all()
    torch.testing.assert_close(ref[0, 0], reference_points(6, 6, x.dtype,
                                                           x.device))
    assert ref[0, 0, 0, 0].tolist() == pytest.approx([-5 / 6, -5 / 6])
    out.square().mean().backward()
    for name in ('conv_offset.3.weight', 'conv_offset.0.weight', 'rpe_table',
                 'proj_k.weight', 'proj_q.weight'):
        grad = dict(attn.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name


def test_deformable_zero_offsets_is_plain_attention():
    """With the offset net's last conv zeroed and stride 1 the keys sit on
    the reference grid: the attention equals a dense computation with keys
    bilinearly read at the (contracted) reference points."""
    torch.manual_seed(4)
    attn = DeformableAttention(
        8, 2, 1, offset_kernel_size=3, use_pe=False, rpe_size=(4, 4))
    torch.nn.init.zeros_(attn.conv_offset[3].weight)
    x = torch.randn(1, 8, 4, 4)
    with torch.no_grad():
        out, pos, _ = attn(x)
        # reference points (i + 0.5) / 4 * 2 - 1, read with
        # align_corners=True: pixel coordinate (i + 0.5) * 3 / 4 - ... so
        # build the interpolation matrix by hand
        coords = [(i + 0.5) / 4 * 2 - 1 for i in range(4)]
        pix = [(c + 1) / 2 * 3 for c in coords]
        M = torch.zeros(4, 4)  # 1-D linear interpolation weights
        for i, p in enumerate(pix):
            lo = int(math.floor(p))
            M[i, lo] += 1 - (p - lo)
            if lo + 1 < 4:
                M[i, lo + 1] += p - lo
        sampled = torch.einsum('yi,xj,cij->cyx', M, M, x[0]).reshape(8, 16)
        q = attn.proj_q(x)[0].reshape(2, 4, 16)
        k = (attn.proj_k.weight[:, :, 0, 0] @ sampled +
             attn.proj_k.bias[:, None]).reshape(2, 4, 16)
        v = (attn.proj_v.weight[:, :, 0, 0] @ sampled +
             attn.proj_v.bias[:, None]).reshape(2, 4, 16)
        a = (q.transpose(1, 2) @ k / 2).softmax(-1)  # head dim 4
        o = (v @ a.transpose(1, 2)).reshape(1, 8, 4, 4)
        torch.testing.assert_close(out, attn.proj_out(o), rtol=1e-5,
                                   atol=1e-5)


def test_offset_range_factor_modes():
    torch.manual_seed(5)
    x = torch.randn(1, 8, 5, 5) * 10
    for factor in (0., -1.):
        attn = DeformableAttention(
            8, 2, 1, offset_kernel_size=3, offset_range_factor=factor,
            rpe_size=(5, 5))
        torch.nn.init.normal_(attn.conv_offset[3].weight, std=5.)
        _, pos, ref = attn(x)
        if factor < 0:  # tanh-squashed positions stay inside the map
            assert pos.abs().max() <= 1
        else:  # unbounded offsets
            assert (pos - ref).abs().max() > 1


def test_frozen_stages():
    model = DAT(SMALL, img_size=64, window_size=4, frozen_stages=2,
                out_indices=(0, 1, 2, 3))
    model.train()
    frozen = [model.patch_embed, model.patch_norm, model.stages[0],
              model.stages[1], model.norm0, model.norm1]
    for m in frozen:
        assert all(not p.requires_grad for p in m.parameters())
        assert not m.training
    assert all(p.requires_grad for p in model.stages[2].parameters())
    assert model.stages[2].training and model.norm2.training
