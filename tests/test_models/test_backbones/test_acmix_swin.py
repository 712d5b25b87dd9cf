import pytest
import torch
import torch.nn.functional as F
from mmpretrain.models.utils import ShiftWindowMSA
from mmpretrain.registry import MODELS as PRETRAIN_MODELS
from torch.utils._python_dispatch import TorchDispatchMode

import mmext  # noqa: F401  (registers ACmixSwinTransformer)
from mmext.models.backbones import ACmixSwinTransformer
from mmext.models.backbones.acmix_swin import ACmixShiftWindowMSA


# The authors' ACmix-Swin-T/S (swin_transformer_acmix.py), 1,000 classes.
@pytest.mark.parametrize('arch,num_params', [('tiny', 28_649_908),
                                             ('small', 50_345_080)])
def test_parameter_count(arch, num_params):
    model = PRETRAIN_MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='ACmixSwinTransformer', arch=arch),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead', num_classes=1000, in_channels=768)))
    assert sum(p.numel() for p in model.parameters()) == num_params


def make_pair(shift):
    torch.manual_seed(0)
    msa = ShiftWindowMSA(
        embed_dims=12, num_heads=3, window_size=4,
        shift_size=2 if shift else 0).double()
    with torch.no_grad():
        msa.w_msa.relative_position_bias_table.normal_()
    acmix = ACmixShiftWindowMSA(msa).double()
    return msa, acmix


def reference_conv_path(acmix, x):
    """fc by explicit sums over q/k/v heads, then zero-padded shifted
    copies summed per group (the shift initialisation)."""
    b, h, w, c = x.shape
    heads = acmix.w_msa.num_heads
    d = c // heads
    qkv = acmix.w_msa.qkv(x)  # b, h, w, 3c: [q heads | k heads | v heads]
    maps = qkv.view(b, h, w, 3 * heads, d)
    wf, bf = acmix.fc.weight[:, :, 0, 0], acmix.fc.bias
    out = torch.zeros(b, h, w, c, dtype=x.dtype)
    for o in range(c):
        g = o // heads
        for t in range(9):
            f = sum(wf[t, m] * maps[..., m, g] for m in range(3 * heads))
            f = F.pad(f + bf[t], (1, 1, 1, 1))
            dy, dx = t // 3 - 1, t % 3 - 1
            out[..., o] += f[:, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w]
    return out


@pytest.mark.parametrize('shift', [False, True])
@pytest.mark.parametrize('hw', [(8, 8), (6, 7)])
def test_attention_path_matches_mmpretrain(shift, hw):
    msa, acmix = make_pair(shift)
    x = torch.randn(2, hw[0] * hw[1], 12, dtype=torch.float64)
    with torch.no_grad():
        acmix.rate1.fill_(1.0)
        acmix.rate2.fill_(0.0)
    torch.testing.assert_close(acmix(x, hw), msa(x, hw))


@pytest.mark.parametrize('shift', [False, True])
def test_conv_path_is_shift_initialised(shift):
    msa, acmix = make_pair(shift)
    assert acmix.rate1.item() == 0.5 and acmix.rate2.item() == 0.5
    with torch.no_grad():
        acmix.fc.bias.normal_()
    x = torch.randn(2, 64, 12, dtype=torch.float64)
    expected_att = msa(x, (8, 8))
    xs = x.view(2, 8, 8, 12)
    if shift:  # the conv path sees the cyclically shifted map
        xs = torch.roll(xs, (-2, -2), (1, 2))
    conv = reference_conv_path(acmix, xs)
    if shift:
        conv = torch.roll(conv, (2, 2), (1, 2))
    torch.testing.assert_close(
        acmix(x, (8, 8)), 0.5 * expected_att + 0.5 * conv.reshape(2, 64, 12))


def test_no_shift_when_one_window_covers_the_map():
    # The authors' Swin drops the shift when the map is no larger than the
    # window (stage 4 at 224): the shifted block then equals the plain one.
    msa, acmix = make_pair(shift=True)
    plain = ShiftWindowMSA(
        embed_dims=12, num_heads=3, window_size=4, shift_size=0).double()
    plain.w_msa = msa.w_msa
    with torch.no_grad():
        acmix.rate2.fill_(0.0)
    for hw in [(4, 4), (3, 2)]:
        x = torch.randn(1, hw[0] * hw[1], 12, dtype=torch.float64)
        plain.pad_small_map = True
        torch.testing.assert_close(acmix(x, hw), 0.5 * plain(x, hw))


def test_backbone_outputs_and_init():
    model = ACmixSwinTransformer(
        arch=dict(embed_dims=24, depths=[2, 2], num_heads=[3, 6]),
        out_indices=(0, 1))
    model.init_weights()
    eye = torch.eye(9).view(9, 3, 3)
    for m in model.modules():
        if isinstance(m, ACmixShiftWindowMSA):
            w = m.dep_conv.weight
            assert torch.equal(w, eye.expand_as(w))
    outs = model.eval()(torch.rand(1, 3, 60, 44))
    assert [tuple(o.shape) for o in outs] == [(1, 24, 15, 11),
                                              (1, 48, 8, 6)]
    model.train()
    model(torch.rand(2, 3, 32, 32))[-1].sum().backward()
    assert model.stages[1].blocks[1].attn.rate2.grad is not None


class ConvInputs(TorchDispatchMode):
    """Whether each convolution that runs gets its input in a dense layout
    (NCHW or NHWC), which it can use without copying."""

    def __init__(self) -> None:
        super().__init__()
        self.dense = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.overloadpacket is torch.ops.aten.convolution:
            x = args[0]
            self.dense.append(x.is_contiguous() or x.is_contiguous(
                memory_format=torch.channels_last))
        return func(*args, **(kwargs or {}))


def test_conv_path_gets_no_permuted_input():
    """The 1x1 ``fc`` mixes the heads of the qkv projection's (B, H, W, 3C)
    output as a linear layer; as a convolution on a permuted view it copied
    its input and its backward was 2.3x slower. Only ``dep_conv`` remains a
    convolution, on a dense (channels-last) input."""
    _, acmix = make_pair(shift=True)
    x = torch.randn(2, 64, 12, dtype=torch.float64, requires_grad=True)
    with ConvInputs() as rec:
        acmix(x, (8, 8)).sum().backward()
    assert rec.dense == [True]
    assert acmix.fc.weight.grad.abs().sum() > 0
