"""CIFAR KD-benchmark backbones: parameter counts of the benchmark's models.

The expected counts are those of mdistiller's CIFAR model zoo
(megvii-research/mdistiller, ``mdistiller/models/cifar/{resnet,wrn,
ShuffleNetv1}.py``, also in WKD's fork) with ``num_classes=100``: computed
once by a throwaway script that re-created those modules
(``resnet8x4()``, ``resnet32x4()``, ``resnet8()``, ``resnet56()``,
``wrn_40_2()``, ``wrn_16_2()``, ``wrn_40_1()``, ``ShuffleV1()``) and summed
``p.numel()`` over ``parameters()``; their ``fc``/``linear`` layer is the
``LinearClsHead`` here.
"""
import pytest
import torch
from mmpretrain.registry import MODELS as PRETRAIN_MODELS

import mmext  # noqa: F401
from mmext.models.backbones import (CIFARKDResNet, CIFARShuffleNetV1,
                                    CIFARWideResNet)


def classifier(backbone, channels):
    return dict(
        type='ImageClassifier',
        backbone=backbone,
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=100,
                  in_channels=channels))


@pytest.mark.parametrize('backbone,channels,num_params', [
    (dict(type='CIFARKDResNet', arch='resnet8x4'), 256, 1_233_540),
    (dict(type='CIFARKDResNet', arch='resnet32x4'), 256, 7_433_860),
    (dict(type='CIFARKDResNet', arch='resnet8'), 64, 83_892),
    (dict(type='CIFARKDResNet', arch='resnet56'), 64, 861_620),
    (dict(type='CIFARWideResNet', arch='wrn-40-2'), 128, 2_255_156),
    (dict(type='CIFARWideResNet', arch='wrn-16-2'), 128, 703_284),
    (dict(type='CIFARWideResNet', arch='wrn-40-1'), 64, 569_780),
    (dict(type='CIFARShuffleNetV1'), 960, 949_258),
])
def test_parameter_count(backbone, channels, num_params):
    model = PRETRAIN_MODELS.build(classifier(backbone, channels))
    assert sum(p.numel() for p in model.parameters()) == num_params


@pytest.mark.parametrize('model,shapes', [
    (CIFARKDResNet('resnet8x4', out_indices=(0, 1, 2)),
     [(2, 64, 32, 32), (2, 128, 16, 16), (2, 256, 8, 8)]),
    (CIFARWideResNet('wrn-16-2', out_indices=(0, 1, 2)),
     [(2, 32, 32, 32), (2, 64, 16, 16), (2, 128, 8, 8)]),
    (CIFARShuffleNetV1(out_indices=(0, 1, 2)),
     [(2, 240, 16, 16), (2, 480, 8, 8), (2, 960, 4, 4)]),
])
def test_output_shapes(model, shapes):
    outs = model(torch.randn(2, 3, 32, 32))
    assert [tuple(o.shape) for o in outs] == shapes


def test_wrn_last_stage_is_post_activation():
    model = CIFARWideResNet('wrn-16-1').eval()
    assert (model(torch.randn(2, 3, 32, 32))[0] >= 0).all()


@pytest.mark.parametrize('model', [
    CIFARWideResNet('wrn-16-1', frozen_stages=1, norm_eval=True),
    CIFARShuffleNetV1(frozen_stages=1, norm_eval=True),
])
def test_frozen_stages_and_norm_eval(model):
    model.train()
    assert all(not p.requires_grad for p in model.conv1.parameters())
    assert all(not p.requires_grad for p in model.layer1.parameters())
    assert all(p.requires_grad for p in model.layer2.parameters())
    assert not any(m.training for m in model.modules()
                   if isinstance(m, torch.nn.BatchNorm2d))


def test_bad_arch():
    with pytest.raises(ValueError, match='resnet8x4'):
        CIFARKDResNet('resnet9')
    with pytest.raises(ValueError, match='wrn-40-2'):
        CIFARWideResNet('wrn-10-2')
    with pytest.raises(AssertionError, match='6n\\+4'):
        CIFARWideResNet(dict(depth=18, widen=2))
