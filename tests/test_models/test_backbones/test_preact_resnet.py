"""PreActResNet: the pre-activation block against its formula, strides and
output, frozen stages and norm_eval, argument checks."""
import pytest
import torch
import torch.nn.functional as F

import mmext  # noqa: F401
from mmext.models.backbones import PreActResNet
from mmext.models.backbones.preact_resnet import PreActBottleneck


def _bn(bn, x):
    return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight,
                        bn.bias, False, 0.0, bn.eps)


def test_block_formula():
    torch.manual_seed(0)
    block = PreActBottleneck(8, 4, stride=2).eval()
    for m in block.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            torch.nn.init.uniform_(m.weight, 0.5, 1.5)
            torch.nn.init.normal_(m.bias)
            m.running_var.uniform_(0.5, 2)
    x = torch.randn(2, 8, 6, 6)
    a = _bn(block.bn1, x).relu()
    out = F.conv2d(a, block.conv1.weight)
    out = F.conv2d(_bn(block.bn2, out).relu(), block.conv2.weight, stride=2,
                   padding=1)
    out = F.conv2d(_bn(block.bn3, out).relu(), block.conv3.weight)
    shortcut = F.conv2d(a, block.downsample[0].weight, stride=2)
    torch.testing.assert_close(block(x), out + shortcut)
    assert block.bn1.eps == 2e-5
    assert PreActBottleneck(16, 4).downsample is None


def test_output_and_freezing():
    model = PreActResNet(depth=50, out_indices=(2, 3), frozen_stages=1)
    model.init_weights()
    model.train()
    c3, c4 = model(torch.rand(1, 3, 64, 64) * 255)
    assert c3.shape == (1, 1024, 4, 4) and c4.shape == (1, 2048, 4, 4)
    assert (c4 >= 0).all()  # the final BN-ReLU
    assert not model.layer1.training and model.layer2.training
    assert not any(p.requires_grad for p in model.layer1.parameters())
    assert not model.bn_data.weight.requires_grad
    plain = PreActResNet(depth=50, strides=(1, 2, 2, 2), input_norm=False,
                         norm_eval=True)
    plain.train()
    assert plain.bn_data is None and not plain.bn2.training
    assert plain(torch.randn(1, 3, 64, 64))[0].shape == (1, 2048, 2, 2)
    with pytest.raises(ValueError, match=r"strides=\(1, 2\) \(tuple\)"):
        PreActResNet(strides=(1, 2))
    with pytest.raises(ValueError, match='depth=18'):
        PreActResNet(depth=18)
