"""tools/model_converters/gfnet2mmext.py on checkpoints in the GFNet
authors' layout: encoders from torchvision (ResNet) and timm (MobileNetV3)
behind ``module.``, the classifier and policy under their names, and the
release's calibration; the converted encoders give the source models'
logits."""
import importlib.util
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from torch import nn

import mmext  # noqa: F401
from mmext.evaluation import stored_thresholds

SCRIPT = osp.join(
    osp.dirname(__file__), '..', '..', 'tools', 'model_converters',
    'gfnet2mmext.py')
spec = importlib.util.spec_from_file_location('gfnet2mmext', SCRIPT)
gfnet2mmext = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gfnet2mmext)


def _authors_policy(channels: int) -> nn.Module:
    """network.py's ActorCritic (conv state encoder, hidden 8, 1x1 map)."""
    policy = nn.Module()
    policy.state_encoder = nn.Sequential(
        nn.Conv2d(channels, 32, 1, bias=False), nn.ReLU(), nn.Flatten(),
        nn.Linear(32, 8), nn.ReLU())
    policy.gru = nn.GRU(8, 8)
    policy.actor = nn.Sequential(nn.Linear(8, 2), nn.Sigmoid())
    policy.critic = nn.Sequential(nn.Linear(8, 1))
    return policy


def _release(prime: nn.Module, local: nn.Module, fc: nn.Module,
             channels: int, **extra) -> dict:
    return dict(
        model_prime_state_dict={
            f'module.{k}': v
            for k, v in prime.state_dict().items()
        },
        model_state_dict={
            f'module.{k}': v
            for k, v in local.state_dict().items()
        },
        fc=fc.state_dict(),
        policy=_authors_policy(channels).state_dict(),
        **extra)


def _config(tmp_path, encoder: dict, classifier: dict, channels: int,
            **model) -> str:
    cfg = Config(
        dict(
            model=dict(
                type='GFNet',
                patch_size=32,
                num_steps=3,
                stage=3,
                global_encoder=encoder,
                classifier=classifier,
                policy=dict(type='GFNetPolicy', in_channels=channels,
                            encoder='conv', hidden_dim=8),
                **model)))
    path = str(tmp_path / 'gfnet_cfg.py')
    cfg.dump(path)
    return path


def _resnet18_case(tmp_path):
    torchvision = pytest.importorskip('torchvision')
    torch.manual_seed(0)
    prime = torchvision.models.resnet18(num_classes=5).eval()
    local = torchvision.models.resnet18(num_classes=5).eval()
    fc = nn.Module()  # network.py's Full_layer (GRU)
    fc.rnn = nn.GRU(512, 16)
    fc.fc = nn.Linear(16, 5)
    encoder = dict(
        type='mmpretrain.ImageClassifier',
        backbone=dict(type='mmpretrain.ResNet', depth=18),
        neck=dict(type='mmpretrain.GlobalAveragePooling'),
        head=dict(type='mmpretrain.LinearClsHead', num_classes=5,
                  in_channels=512))
    classifier = dict(type='GFNetHead', in_channels=512, num_classes=5,
                      hidden_dim=16)
    return prime, local, fc, _config(tmp_path, encoder, classifier, 512)


def _own_logits(encoder, x):
    feats = encoder.extract_feat(x)
    return encoder.head(feats)


def test_resnet_release(tmp_path):
    prime, local, fc, config = _resnet18_case(tmp_path)
    thresholds = torch.rand(39, 3)
    src = str(tmp_path / 'gfnet.pth.tar')
    torch.save(
        _release(prime, local, fc, 512, dynamic_threshold=thresholds,
                 flops=[1.0, 2.0, 3.0], patch_size=32), src)
    dst = str(tmp_path / 'out.pth')
    assert gfnet2mmext.main([src, dst, '--config', config]) == 0
    model = gfnet2mmext.build_model(config).eval()
    ckpt = load_checkpoint(model, dst, map_location='cpu', strict=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(
            _own_logits(model.global_encoder, x), prime(x), atol=1e-5)
        assert torch.allclose(
            _own_logits(model.local_encoder, x), local(x), atol=1e-5)
    assert torch.equal(model.classifier.rnn.weight_hh_l0, fc.rnn.weight_hh_l0)
    meta = ckpt['meta']['gfnet']
    assert torch.allclose(torch.tensor(meta['thresholds']), thresholds)
    assert meta['step_costs'] == [1.0, 2.0, 3.0]
    assert stored_thresholds(dst, 3).tolist() == meta['thresholds']
    with pytest.raises(ValueError, match='model.num_steps=5'):
        stored_thresholds(dst, 5)


def test_training_checkpoint_has_no_thresholds(tmp_path, capsys):
    prime, local, fc, config = _resnet18_case(tmp_path)
    src = str(tmp_path / 'checkpoint.pth.tar')
    release = _release(prime, local, fc, 512)
    torch.save(release, src)
    dst = str(tmp_path / 'out.pth')
    assert gfnet2mmext.main([src, dst, '--config', config]) == 0
    assert 'none in the source' in capsys.readouterr().out
    with pytest.raises(ValueError, match='no calibrated thresholds'):
        stored_thresholds(dst, 3)
    release.pop('policy')
    torch.save(release, src)
    assert gfnet2mmext.main([src, dst, '--config', config]) == 1
    assert "no 'policy'" in capsys.readouterr().err
    torch.save(_release(prime, local, fc, 512, patch_size=96), src)
    assert gfnet2mmext.main([src, dst, '--config', config]) == 1
    assert 'model.patch_size=32' in capsys.readouterr().err


def test_mobilenetv3_release(tmp_path):
    timm = pytest.importorskip('timm')
    torch.manual_seed(0)
    prime = timm.create_model('mobilenetv3_large_100', num_classes=5).eval()
    local = timm.create_model('mobilenetv3_large_100', num_classes=5).eval()
    fc = nn.Module()  # network.py's Full_layer (cascade)
    for k in range(2, 6):
        fc.add_module(f'fc_{k}', nn.Linear(k * 1280, 5))
    encoder = dict(
        type='mmpretrain.ImageClassifier',
        # the authors' timm models use PyTorch's BN eps
        backbone=dict(type='mmpretrain.MobileNetV3', arch='large',
                      norm_cfg=dict(type='BN', eps=1e-5)),
        neck=dict(type='mmpretrain.GlobalAveragePooling'),
        head=dict(type='mmpretrain.StackedLinearClsHead', num_classes=5,
                  in_channels=960, mid_channels=[1280],
                  act_cfg=dict(type='HSwish')))
    config = _config(tmp_path, encoder,
                     dict(type='GFNetHead', in_channels=1280, num_classes=5,
                          mode='cascade'), 960, glance_logits='encoder')
    src = str(tmp_path / 'gfnet_mbv3.pth.tar')
    torch.save(_release(prime, local, fc, 960), src)
    dst = str(tmp_path / 'out.pth')
    assert gfnet2mmext.main([src, dst, '--config', config]) == 0
    model = gfnet2mmext.build_model(config).eval()
    load_checkpoint(model, dst, map_location='cpu', strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(
            _own_logits(model.local_encoder, x), local(x), atol=1e-4)
