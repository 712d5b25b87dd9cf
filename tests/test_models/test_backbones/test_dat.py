"""DAT backbone (mmext.models.backbones.dat). Equality with the authors'
model is checked in tests/test_tools/test_dat2mmext.py (a re-creation of
their code with their key names); here: parameter counts, shapes at odd
sizes, window attention with padding against a slow loop, the deformable
attention's offsets and gradients, freezing."""
import math
import os.path as osp

import pytest
import torch
from mmpretrain.registry import MODELS as PRETRAIN_MODELS
from torch.utils._python_dispatch import TorchDispatchMode

import mmext  # noqa: F401  (registers DAT)
from mmext.models.backbones import DAT
from mmext.models.backbones.dat import (DATBlock, DeformableAttention,
                                        WindowAttention, reference_points)

CONFIGS = osp.join(osp.dirname(__file__), '..', '..', '..', 'configs', 'dat')
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
    with pytest.raises(ValueError, match="arch='huge'"):
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


def authors_interp_window_table(value, window_size):
    """The authors' ``load_pretrained`` for ``relative_position_bias_table``
    (LeapLabTHU/DAT 566a593, models/dat.py), written out independently."""
    n, c = value.shape
    side = int(math.sqrt(n))
    big = 2 * window_size - 1
    grid = value.reshape(1, side, side, c).permute(0, 3, 1, 2)
    out = torch.nn.functional.interpolate(grid, (big, big), mode='bicubic')
    return out.reshape(c, big**2).permute(1, 0)


def authors_interp_rpe_table(value, size):
    return torch.nn.functional.interpolate(
        value.unsqueeze(0), size, mode='bicubic').squeeze(0)


def test_load_other_size_resizes_bias_tables():
    torch.manual_seed(6)
    small = DAT(SMALL, img_size=64, window_size=4)
    big = DAT(SMALL, img_size=96, window_size=6)
    with torch.no_grad():
        for name, p in small.named_parameters():
            p.normal_()
    sd = small.state_dict()
    assert big.load_state_dict(sd, strict=True)
    got = big.state_dict()
    for name, value in sd.items():
        if name.endswith('relative_position_bias_table'):
            assert value.shape == (49, SMALL['heads'][int(name[7])])
            expected = authors_interp_window_table(value, 6)
            assert got[name].shape == (121, value.shape[1])
        elif name.endswith('rpe_table'):
            stage = int(name[7])
            side = 2 * (96 // 4 // 2**stage) - 1
            expected = authors_interp_rpe_table(value, (side, side))
            assert got[name].shape == (value.shape[0], side, side)
        else:
            expected = value
        torch.testing.assert_close(got[name], expected, rtol=0, atol=1e-6)
    # tables of the model's own size load unchanged
    again = DAT(SMALL, img_size=64, window_size=4)
    again.load_state_dict(sd, strict=True)
    for name, value in again.state_dict().items():
        assert torch.equal(value, sd[name]), name
    # other head counts are still a size mismatch
    bad = {k: v[:, :1] if k.endswith('relative_position_bias_table') else v
           for k, v in sd.items()}
    with pytest.raises(RuntimeError, match='relative_position_bias_table'):
        big.load_state_dict(bad)


def authors_table_params(arch, img_size, window_size):
    """Sizes of the authors' window (``(2 ws - 1)^2 x heads``) and
    deformable (``heads x (2 Hs - 1) x (2 Ws - 1)``, stages 3-4) bias
    tables, from their configs/dat_base*.yaml values."""
    total, fmap = 0, img_size // 4
    for i, spec in enumerate(arch['stage_spec']):
        for kind in spec:
            if kind == 'D':
                total += arch['heads'][i] * (2 * fmap - 1)**2
            else:
                total += (2 * window_size - 1)**2 * arch['heads'][i]
        fmap //= 2
    return total


def test_dat_base_384_config_count_and_224_weights():
    """configs/dat/dat_base_8xb24_30e_in1k-384px.py has the authors' DAT-B
    384 count, and a DAT-B 224 state dict loads into it."""
    from mmengine.config import Config
    cfg384 = Config.fromfile(osp.join(CONFIGS, 'dat_base_8xb24_30e_in1k-'
                                      '384px.py'))
    assert cfg384.model.backbone.img_size == 384
    assert cfg384.model.backbone.window_size == 12
    assert cfg384.model.init_cfg.type == 'Pretrained'
    base = DAT.arch_zoo['base']
    authors_384 = 87_881_632 - authors_table_params(base, 224, 7) + \
        authors_table_params(base, 384, 12)
    assert authors_384 == 88_178_272
    cfg384.model.init_cfg = None
    model384 = PRETRAIN_MODELS.build(cfg384.model)
    assert sum(p.numel() for p in model384.parameters()) == 88_178_272
    # a 224 state dict: the 224 table shapes written out (window 7 ->
    # 13 x 13 entries; deformable stages 3/4 at 14/7 -> 27 x 27, 13 x 13)
    torch.manual_seed(7)
    sd224 = {}
    for key, value in model384.state_dict().items():
        shape = value.shape
        if key.endswith('relative_position_bias_table'):
            shape = (13 * 13, shape[1])
        elif key.endswith('rpe_table'):
            side = 27 if key.startswith('backbone.stages.2.') else 13
            shape = (shape[0], side, side)
        sd224[key] = torch.randn(shape)
    model384.load_state_dict(sd224, strict=True)
    sd384 = model384.state_dict()
    key = 'backbone.stages.2.blocks.0.attn.relative_position_bias_table'
    torch.testing.assert_close(
        sd384[key], authors_interp_window_table(sd224[key], 12), rtol=0,
        atol=1e-6)
    key = 'backbone.stages.3.blocks.1.attn.rpe_table'
    assert sd224[key].shape == (32, 13, 13)
    torch.testing.assert_close(
        sd384[key], authors_interp_rpe_table(sd224[key], (23, 23)), rtol=0,
        atol=1e-6)
    for key in ('head.fc.weight', 'backbone.stages.2.blocks.1.attn.'
                'conv_offset.0.weight'):
        assert torch.equal(sd384[key], sd224[key])


def test_pretrained_init_cfg_resizes_tables(tmp_path):
    """The config route: ``init_cfg=dict(type='Pretrained')`` on the
    classifier (mmengine's ``load_checkpoint``) goes through the hooks."""
    from mmengine.runner import save_checkpoint

    def classifier(img_size, window_size, init_cfg=None):
        return PRETRAIN_MODELS.build(
            dict(
                type='ImageClassifier',
                backbone=dict(
                    type='DAT', arch=SMALL, img_size=img_size,
                    window_size=window_size),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(type='LinearClsHead', num_classes=5,
                          in_channels=128),
                init_cfg=init_cfg))

    torch.manual_seed(8)
    small = classifier(64, 4)
    small.init_weights()
    ckpt = str(tmp_path / 'small.pth')
    save_checkpoint({'state_dict': small.state_dict()}, ckpt)
    big = classifier(96, 6, dict(type='Pretrained', checkpoint=ckpt))
    big.init_weights()
    key = 'backbone.stages.2.blocks.1.attn.rpe_table'
    torch.testing.assert_close(
        big.state_dict()[key],
        authors_interp_rpe_table(small.state_dict()[key], (11, 11)), rtol=0,
        atol=1e-6)
    key = 'backbone.stages.1.blocks.1.attn.relative_position_bias_table'
    torch.testing.assert_close(
        big.state_dict()[key],
        authors_interp_window_table(small.state_dict()[key], 6), rtol=0,
        atol=1e-6)


class RecordOps(TorchDispatchMode):
    """Names of the aten ops that run (after autograd's decompositions)."""

    def __init__(self) -> None:
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(str(func.overloadpacket))
        return func(*args, **(kwargs or {}))


def test_block_mlp_fuses_bias_and_matches_layernorm2d():
    """The MLP gets LayerNorm's output as a contiguous (B, H, W, C) map, so
    each projection is one addmm with the bias fused (no mm + add); the
    result is the LayerNorm2d -> permute -> MLP of the authors' order."""
    torch.manual_seed(5)
    block = DATBlock(8, 'L', dict(num_heads=2, window_size=3)).eval()
    for p in block.parameters():
        torch.nn.init.normal_(p, std=0.3)
    x = torch.randn(2, 8, 6, 5)
    with RecordOps() as rec, torch.no_grad():
        y = block(x)
    assert 'aten.mm' not in rec.ops
    # qkv and output projections of the window attention, fc1 and fc2
    assert rec.ops.count('aten.addmm') == 4
    with torch.no_grad():
        h = x + block.attn(block.norm1(x))
        mlp = block.mlp(block.norm2(h).permute(0, 2, 3, 1))
        torch.testing.assert_close(
            y, h + mlp.permute(0, 3, 1, 2), rtol=1e-5, atol=1e-6)
    assert [k for k in block.state_dict() if k.startswith(('norm2', 'mlp'))
            ] == ['norm2.weight', 'norm2.bias', 'mlp.fc1.weight',
                  'mlp.fc1.bias', 'mlp.fc2.weight', 'mlp.fc2.bias']
