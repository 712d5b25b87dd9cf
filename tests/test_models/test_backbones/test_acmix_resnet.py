import pytest
import torch
from mmdet.registry import MODELS as DET_MODELS
from mmpretrain.registry import MODELS as PRETRAIN_MODELS

import mmext  # noqa: F401  (registers ACmixResNet)
from mmext.models.backbones import ACmixResNet
from mmext.models.backbones.acmix_resnet import ACmixBottleneck
from mmext.models.plugins import ACmix


def classifier_cfg(depth, **backbone_kwargs):
    return dict(
        type='ImageClassifier',
        backbone=dict(type='ACmixResNet', depth=depth, **backbone_kwargs),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=2048))


# The authors' ACmix_ResNet(layers=...) with 1,000 classes.
@pytest.mark.parametrize('depth,num_params', [(26, 10_487_816),
                                              (38, 14_410_896),
                                              (50, 18_333_976)])
def test_parameter_count(depth, num_params):
    model = PRETRAIN_MODELS.build(classifier_cfg(depth))  # no forward
    assert sum(p.numel() for p in model.parameters()) == num_params


@pytest.mark.parametrize('depth,blocks', [(26, (1, 2, 4, 1)),
                                          (38, (2, 3, 5, 2)),
                                          (50, (3, 4, 6, 3))])
def test_structure(depth, blocks):
    model = ACmixResNet(depth)
    for stage, num in enumerate(blocks):
        layer = getattr(model, f'layer{stage + 1}')
        assert len(layer) == num
        for i, block in enumerate(layer):
            assert isinstance(block, ACmixBottleneck)
            assert isinstance(block.conv2, ACmix)
            assert block.conv2.num_heads == 4
            assert block.conv2.kernel_att == 7
            assert block.conv2.stride == (2 if stage and not i else 1)
    with pytest.raises(ValueError, match='depth=18'):
        ACmixResNet(18)


def test_init_weights_restores_shift_kernels():
    model = ACmixResNet(26)
    model.init_weights()  # Kaiming on every Conv2d, then ACmix's reset
    eye = torch.eye(9).view(9, 3, 3)
    for m in model.modules():
        if isinstance(m, ACmix):
            w = m.dep_conv.weight
            assert torch.equal(w, eye.expand_as(w))
            assert m.rate1.item() == 0.5 and m.rate2.item() == 0.5


def test_multiscale_outputs_and_odd_sizes():
    model = ACmixResNet(26, out_indices=(0, 1, 2, 3)).eval()
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 64, 64))
        assert [tuple(o.shape) for o in outs] == [(1, 256, 16, 16),
                                                  (1, 512, 8, 8),
                                                  (1, 1024, 4, 4),
                                                  (1, 2048, 2, 2)]
        # Stage-4 ACmix sees 2x2 maps here: smaller than the 7x7 window.
        outs = model(torch.rand(1, 3, 36, 52))
        assert [tuple(o.shape[2:]) for o in outs] == [(9, 13), (5, 7),
                                                      (3, 4), (2, 2)]


def test_frozen_stages_and_gradients():
    model = ACmixResNet(26, frozen_stages=1)
    model.train()
    assert not model.layer1[0].conv2.rate1.requires_grad
    assert not model.layer1.training
    assert model.layer2.training
    out = model(torch.rand(2, 3, 32, 32))[-1]
    out.sum().backward()
    acmix = model.layer4[0].conv2
    assert acmix.rate1.grad is not None and acmix.fc.weight.grad is not None


def test_mmdet_registry():
    backbone = DET_MODELS.build(
        dict(type='ACmixResNet', depth=50, out_indices=(0, 1, 2, 3),
             frozen_stages=1, norm_eval=True))
    assert isinstance(backbone, ACmixResNet)
    assert backbone.out_indices == (0, 1, 2, 3)
