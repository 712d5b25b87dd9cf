"""MobileNetV1 (ImageNet KD-benchmark student) and the benchmark's ImageNet
classifiers as built from the configs.

The reference is a hand-written re-creation of the layout of the authors'
model zoo (``mdistiller/models/imagenet/mobilenetv1.py`` in
megvii-research/mdistiller and JiamingLv/WKD): an ``nn.Sequential`` of a
``conv_bn`` stem and 13 ``conv_dw`` blocks, features taken after blocks 3,
5, 11 and 13, and an ``fc`` on the 7x7 average pool. 4,231,976 parameters
with 1000 classes. ResNet counts are torchvision's
(``torchvision.models.resnet{18,34,50}()``: 11,689,512 / 21,797,672 /
25,557,032), whose weights are the ImageNet teachers of the benchmark.
"""
import os.path as osp

import pytest
import torch
import torch.nn as nn
import torchvision
from mmengine.config import Config
from mmpretrain.registry import MODELS as PRETRAIN_MODELS

import mmext  # noqa: F401
from mmext.models.backbones import MobileNetV1

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))


def reference_mobilenet_v1() -> nn.Module:
    """The authors' layout: ``model`` (stem + 13 blocks) and ``fc``."""

    def conv_bn(inp, oup, stride):
        return nn.Sequential(
            nn.Conv2d(inp, oup, 3, stride, 1, bias=False),
            nn.BatchNorm2d(oup), nn.ReLU())

    def conv_dw(inp, oup, stride):
        return nn.Sequential(
            nn.Conv2d(inp, inp, 3, stride, 1, groups=inp, bias=False),
            nn.BatchNorm2d(inp), nn.ReLU(),
            nn.Conv2d(inp, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup),
            nn.ReLU())

    cfg = [(32, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2),
           (256, 256, 1), (256, 512, 2)] + [(512, 512, 1)] * 5 + [
               (512, 1024, 2), (1024, 1024, 1)]
    ref = nn.Module()
    ref.model = nn.Sequential(conv_bn(3, 32, 2),
                              *[conv_dw(i, o, s) for i, o, s in cfg])
    ref.fc = nn.Linear(1024, 1000)
    return ref


def reference_features(ref: nn.Module, x: torch.Tensor):
    feats = []
    for i, block in enumerate(ref.model):
        x = block(x)
        if i in (3, 5, 11, 13):
            feats.append(x)
    return feats, ref.fc(x.mean((2, 3)))


def build(config: str) -> nn.Module:
    if '::' in config:
        from mmengine.hub import get_config
        cfg = get_config(config)
    else:
        cfg = Config.fromfile(osp.join(REPO, config))
    return PRETRAIN_MODELS.build(cfg.model)


@pytest.mark.parametrize('config,num_params', [
    ('configs/kd/mobilenet-v1_8xb32_in1k.py', 4_231_976),
    ('mmpretrain::resnet/resnet18_8xb32_in1k.py', 11_689_512),
    ('configs/kd/resnet34_8xb32_in1k.py', 21_797_672),
    ('configs/kd/resnet50_8xb32_in1k.py', 25_557_032),
])
def test_parameter_count(config, num_params):
    model = build(config)
    assert sum(p.numel() for p in model.parameters()) == num_params


def test_reference_parameter_count():
    ref = reference_mobilenet_v1()
    assert sum(p.numel() for p in ref.parameters()) == 4_231_976


def test_matches_reference_layout():
    """With the reference's weights (copied in order, shapes checked), the
    four stages and the logits are the reference's."""
    torch.manual_seed(0)
    ref = reference_mobilenet_v1().eval()
    for m in ref.modules():  # non-trivial BN statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.1, 0.1)
    model = build('configs/kd/mobilenet-v1_8xb32_in1k.py').eval()
    model.backbone.out_indices = (0, 1, 2, 3)
    src, dst = ref.state_dict(), model.state_dict()
    assert len(src) == len(dst)
    # both enumerate the stem, the blocks in order, then the classifier
    mapped = {}
    for (k_src, v), k_dst in zip(src.items(), dst):
        assert v.shape == dst[k_dst].shape, (k_src, k_dst)
        mapped[k_dst] = v
    model.load_state_dict(mapped)

    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        feats_ref, logits_ref = reference_features(ref, x)
        feats = model.backbone(x)
        logits = model(x, mode='tensor')
    assert [tuple(f.shape) for f in feats] == [(2, 128, 16, 16),
                                              (2, 256, 8, 8), (2, 512, 4, 4),
                                              (2, 1024, 2, 2)]
    for f, f_ref in zip(feats, feats_ref):
        torch.testing.assert_close(f, f_ref, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(logits, logits_ref, rtol=1e-4, atol=1e-5)


def test_torchvision_resnet_converts_to_mmpretrain():
    """The teachers' torchvision weights load into mmpretrain's ResNet by
    prefixing ``backbone.`` (``head.`` for ``fc``), as mmpretrain's
    ``torchvision_to_mmpretrain.py`` does, and give the same logits."""
    torch.manual_seed(0)
    tv = torchvision.models.resnet34().eval()
    model = build('configs/kd/resnet34_8xb32_in1k.py').eval()
    state = {('head.' if k.startswith('fc.') else 'backbone.') + k: v
             for k, v in tv.state_dict().items()}
    model.load_state_dict(state, strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(
            model(x, mode='tensor'), tv(x), rtol=1e-4, atol=1e-5)


def test_widen_factor():
    model = MobileNetV1(widen_factor=0.5, out_indices=(0, 3))
    outs = model(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(1, 64, 16, 16),
                                              (1, 512, 2, 2)]
    assert model.conv1.conv.out_channels == 16


def test_frozen_stages_and_norm_eval():
    model = MobileNetV1(frozen_stages=2, norm_eval=True)
    model.train()
    for m in (model.conv1, model.layer1, model.layer2):
        assert all(not p.requires_grad for p in m.parameters())
        assert not m.training
    assert all(p.requires_grad for p in model.layer3.parameters())
    assert not any(m.training for m in model.modules()
                   if isinstance(m, nn.BatchNorm2d))
    model = MobileNetV1(frozen_stages=0)
    model.train()
    assert all(not p.requires_grad for p in model.conv1.parameters())
    assert all(p.requires_grad for p in model.layer1.parameters())
    assert model.layer1.training


def test_init_cfg_pretrained(tmp_path):
    src = MobileNetV1()
    path = str(tmp_path / 'mobilenet_v1.pth')
    torch.save(src.state_dict(), path)
    model = MobileNetV1(init_cfg=dict(type='Pretrained', checkpoint=path))
    model.init_weights()
    for key, value in src.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


def test_bad_arguments():
    with pytest.raises(AssertionError, match='out_indices'):
        MobileNetV1(out_indices=(4, ))
    with pytest.raises(ValueError, match='frozen_stages'):
        MobileNetV1(frozen_stages=5)
