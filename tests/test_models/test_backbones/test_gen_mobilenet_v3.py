"""GenMobileNetV3 against timm's mobilenetv3_large_100 (the layout of the
gen-efficientnet models GFNet's authors use): same tensors in the same
order, same logits."""
import pytest
import torch
from mmengine.registry import MODELS, init_default_scope

import mmext  # noqa: F401
from mmext.models.classifiers.gfnet import rename_encoder


def test_matches_timm_large_100():
    timm = pytest.importorskip('timm')
    torch.manual_seed(0)
    ref = timm.create_model('mobilenetv3_large_100', num_classes=7).eval()
    init_default_scope('mmpretrain')
    model = MODELS.build(
        dict(
            type='mmpretrain.ImageClassifier',
            backbone=dict(type='GenMobileNetV3'),
            neck=dict(type='mmpretrain.GlobalAveragePooling'),
            head=dict(type='mmpretrain.StackedLinearClsHead', num_classes=7,
                      in_channels=960, mid_channels=[1280],
                      act_cfg=dict(type='HSwish')))).eval()
    model.load_state_dict(
        rename_encoder(ref.state_dict(), model, 'timm'))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        out = model.head(model.extract_feat(x))
        assert torch.allclose(out, ref(x), atol=1e-4)


def test_widen_factor_widths():
    model = MODELS.build(dict(type='GenMobileNetV3', widen_factor=1.25))
    # make_divisible(960 * 1.25) and the stem make_divisible(16 * 1.25)
    assert model.layers[-1].conv.out_channels == 1200
    assert model.layers[0].conv.out_channels == 24
    out, = model(torch.zeros(1, 3, 64, 64))
    assert out.shape == (1, 1200, 2, 2)
