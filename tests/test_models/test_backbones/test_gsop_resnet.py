"""GSoP-ResNet: the authors' parameter counts (built from the configs),
placement and shapes."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS as PRETRAIN_MODELS

import mmext  # noqa: F401
from mmext.models.backbones import GSoPResNet
from mmext.models.plugins import GSoPChannelBlock, GSoPPositionBlock

CONFIGS = osp.join(
    osp.dirname(__file__), '..', '..', '..', 'configs', 'gsop')


def _position_net1_resnet50_params() -> int:
    """ResNet-50 (torchvision's 25,557,032) plus one position block per
    stage, counted from the authors' layer shapes (d = 128, 8 x 8 grid):
    conv C -> d with bias, BN(d), BN(64), row-wise Conv2d(64, 256, (64, 1),
    groups=64) with bias, Conv2d(256, 64, 1) with bias."""
    d, hw = 128, 64

    def block(c: int) -> int:
        return (c * d + d) + 2 * d + 2 * hw + (4 * hw * hw + 4 * hw) + (
            4 * hw * hw + hw)

    return 25_557_032 + sum(block(c) for c in (256, 512, 1024, 2048))


@pytest.mark.parametrize('config,params', [
    ('gsop-net1_resnet50_8xb48_95e_in1k.py', 28_285_224),
    ('gsop-net2_resnet50_8xb48_65e_in1k.py', 58_278_568),
    ('gsop-net1_resnet101_8xb48_95e_in1k.py', 47_277_352),
    ('gsop-net2_resnet101_8xb48_65e_in1k.py', 77_270_696),
    ('gsop-net1-position_resnet50_8xb48_95e_in1k.py',
     _position_net1_resnet50_params()),
])
def test_param_count_matches_authors(config, params):
    cfg = Config.fromfile(osp.join(CONFIGS, config))
    model = PRETRAIN_MODELS.build(cfg.model)
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
    with pytest.raises(ValueError, match='depth=18'):
        GSoPResNet(depth=18)
    with pytest.raises(ValueError, match='one entry per stage'):
        GSoPResNet(depth=50, gsop_stages=(True, True))
