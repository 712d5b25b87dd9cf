import pytest
import torch
from mmpretrain.models.backbones.mobilenet_v2 import InvertedResidual
from mmpretrain.registry import MODELS as PRETRAIN_MODELS

import mmext  # noqa: F401  (registers ECAMobileNetV2)
from mmext.models.backbones import ECAMobileNetV2
from mmext.models.backbones.eca_mobilenet_v2 import ECAInvertedResidual
from mmext.models.plugins import ECALayer

STAGE_CHANNELS = (16, 24, 32, 64, 96, 160, 320)
STAGE_BLOCKS = (1, 2, 3, 4, 3, 3, 1)


def test_parameter_count():
    # MobileNetV2 (3,504,872) + 10 blocks with k=1 + 7 blocks with k=3
    cfg = dict(
        type='ImageClassifier',
        backbone=dict(type='ECAMobileNetV2'),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=1280))
    model = PRETRAIN_MODELS.build(cfg)
    assert sum(p.numel() for p in model.parameters()) == 3_504_903
    model.init_weights()
    model.eval()
    with torch.no_grad():
        assert model(
            torch.randn(1, 3, 64, 64), mode='tensor').shape == (1, 1000)


def test_released_kernel_sizes():
    model = ECAMobileNetV2()
    # authors: k = 1 if c < 96 else 3
    assert model.eca_kernel_sizes == (1, 1, 1, 1, 3, 3, 3)
    assert ECAMobileNetV2.released_kernel_sizes == (1, 1, 1, 1, 3, 3, 3)
    for stage, (c, n) in enumerate(zip(STAGE_CHANNELS, STAGE_BLOCKS), 1):
        layer = getattr(model, f'layer{stage}')
        assert len(layer) == n
        for block in layer:
            assert isinstance(block, ECAInvertedResidual)
            assert block.eca.in_channels == c
            assert block.eca.kernel_size == (1 if c < 96 else 3)


def test_adaptive_and_explicit_kernel_sizes():
    # 16, 24, 32, 64, 96 -> 3; 160, 320 -> 5 (Eq. (12), gamma=2, b=1)
    assert ECAMobileNetV2(eca_kernel_sizes=None).eca_kernel_sizes == (3, 3, 3,
                                                                      3, 3, 5,
                                                                      5)
    sizes = (1, 3, 5, 7, 9, 11, 13)
    model = ECAMobileNetV2(eca_kernel_sizes=sizes)
    assert model.eca_kernel_sizes == sizes
    assert model.layer6[2].eca.kernel_size == 11
    with pytest.raises(ValueError, match='one size per stage'):
        ECAMobileNetV2(eca_kernel_sizes=(1, 3))
    with pytest.raises(ValueError, match='kernel_size=2'):
        ECAMobileNetV2(eca_kernel_sizes=(1, 1, 1, 2, 3, 3, 3))
    with pytest.raises(ValueError, match='released'):
        ECAMobileNetV2(eca_kernel_sizes='k13')


def test_forward_shapes():
    model = ECAMobileNetV2(out_indices=tuple(range(8)))
    model.init_weights()
    model.eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(1, 16, 32, 32), (1, 24, 16, 16),
                                              (1, 32, 8, 8), (1, 64, 4, 4),
                                              (1, 96, 4, 4), (1, 160, 2, 2),
                                              (1, 320, 2, 2), (1, 1280, 2, 2)]


@pytest.mark.parametrize('in_c,out_c,stride,t', [(16, 16, 1, 6),
                                                 (16, 24, 2, 6), (8, 8, 1, 1)])
def test_eca_after_projection_before_add(in_c, out_c, stride, t):
    torch.manual_seed(0)
    block = ECAInvertedResidual(
        in_c, out_c, stride, expand_ratio=t, eca_kernel_size=3).eval()
    assert isinstance(block, InvertedResidual)
    with torch.no_grad():
        for p in block.parameters():
            p.normal_()
    seen = {}
    block.conv.register_forward_hook(
        lambda m, i, o: seen.__setitem__('proj', o.clone()))
    block.eca.register_forward_hook(
        lambda m, i, o: seen.__setitem__('eca', (i[0].clone(), o.clone())))
    x = torch.randn(2, in_c, 8, 8)
    with torch.no_grad():
        out = block(x)
    eca_in, eca_out = seen['eca']
    # last module of block.conv is the linear projection (conv + BN, no act)
    assert not block.conv[-1].with_activation
    torch.testing.assert_close(eca_in, seen['proj'])
    expected = eca_out + x if block.use_res_connect else eca_out
    torch.testing.assert_close(out, expected)


def test_frozen_stages():
    model = ECAMobileNetV2(frozen_stages=3)
    assert model.train() is model  # unlike mmpretrain's MobileNetV2
    for m in [model.conv1, model.layer1, model.layer2, model.layer3]:
        assert all(not p.requires_grad for p in m.parameters())
    assert not model.layer3[0].training
    assert all(p.requires_grad for p in model.layer4.parameters())
    assert model.layer4[0].eca.conv.weight.requires_grad


def test_with_cp_and_registry():
    model = PRETRAIN_MODELS.build(
        dict(type='ECAMobileNetV2', with_cp=True, out_indices=(2, )))
    assert sum(isinstance(m, ECALayer) for m in model.modules()) == 17
    x = torch.randn(2, 3, 32, 32, requires_grad=True)
    model(x)[0].sum().backward()
    assert model.layer1[0].eca.conv.weight.grad is not None
