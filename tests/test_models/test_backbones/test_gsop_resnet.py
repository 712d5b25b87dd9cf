"""GSoP-ResNet: the authors' parameter counts, placement and shapes."""
import pytest
import torch
from mmpretrain.registry import MODELS as PRETRAIN_MODELS

import mmext  # noqa: F401
from mmext.models.backbones import GSoPResNet
from mmext.models.plugins import GSoPChannelBlock, GSoPPositionBlock


def _net(depth: int, version: int) -> dict:
    if version == 1:
        return dict(
            type='ImageClassifier',
            backbone=dict(type='GSoPResNet', depth=depth,
                          strides=(1, 2, 2, 1)),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=1000,
                      in_channels=2048))
    return dict(
        type='ImageClassifier',
        backbone=dict(type='GSoPResNet', depth=depth, strides=(1, 2, 2, 1),
                      gsop_stages=(True, True, True, False)),
        neck=dict(type='ISQRTCOVNeck', num_iter=3),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=32896))


@pytest.mark.parametrize('depth,version,params', [
    (50, 1, 28_285_224), (50, 2, 58_278_568), (101, 1, 47_277_352),
    (101, 2, 77_270_696)])
def test_param_count_matches_authors(depth, version, params):
    model = PRETRAIN_MODELS.build(_net(depth, version))
    assert sum(p.numel() for p in model.parameters()) == params


def test_blocks_only_in_last_bottleneck():
    net = GSoPResNet(depth=50, gsop_stages=(True, False, True, True))
    for name, has in zip(net.res_layers, (True, False, True, True)):
        layer = getattr(net, name)
        assert all(b.gsop is None for b in list(layer)[:-1])
        assert isinstance(layer[-1].gsop, GSoPChannelBlock) == has
    assert net.layer1[-1].gsop.reduce_conv.stride == (2, 2)
    assert net.layer3[-1].gsop.reduce_conv.stride == (1, 1)


def test_forward_and_position_variant():
    net = GSoPResNet(
        depth=50,
        out_indices=(0, 1, 2, 3),
        gsop_cfg=dict(type='GSoPPositionBlock', reduced_channels=32),
        gsop_reduce_strides=(1, 1, 1, 1))
    assert isinstance(net.layer4[-1].gsop, GSoPPositionBlock)
    x = torch.randn(2, 3, 64, 64, requires_grad=True)
    outs = net(x)
    assert [tuple(o.shape) for o in outs] == [(2, 256, 16, 16),
                                              (2, 512, 8, 8),
                                              (2, 1024, 4, 4),
                                              (2, 2048, 2, 2)]
    outs[-1].sum().backward()
    assert net.layer1[-1].gsop.head.fc.weight.grad.abs().sum() > 0


def test_invalid_arguments():
    with pytest.raises(KeyError, match='invalid depth'):
        GSoPResNet(depth=18)
    with pytest.raises(ValueError, match='one entry per stage'):
        GSoPResNet(depth=50, gsop_stages=(True, True))
