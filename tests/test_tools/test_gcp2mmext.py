"""tools/model_converters/gcp2mmext.py against re-creations of the GCP
authors' MobileNetV2_MPNCOV(_128) and ShuffleNetV2_MPNCOV
(ZhangLi-CS/GCP_Optimization ``src/models/``) with random weights.

Their backbones are torchvision's ``mobilenet_v2`` / ``shufflenet_v2_x1_0``
(same module names, strides, groups and activations); the GCP head is
written out here as in their ``MPNCOV`` layers: covariance with the explicit
M x M centring matrix, trace-normalised coupled Newton-Schulz iterations,
row-major upper triangle."""
import importlib.util
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmpretrain.registry import MODELS as PRETRAIN_MODELS
from torchvision.models import mobilenet_v2, shufflenet_v2_x1_0

import mmext  # noqa: F401

ROOT = osp.join(osp.dirname(__file__), '..', '..')
SCRIPT = osp.join(ROOT, 'tools', 'model_converters', 'gcp2mmext.py')


def load_script():
    spec = importlib.util.spec_from_file_location('gcp2mmext', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gcp2mmext = load_script()


def authors_isqrt_triu(x: torch.Tensor, iter_n: int = 5) -> torch.Tensor:
    """CovpoolLayer, SqrtmLayer(iter_n), TriuvecLayer of the authors'
    MPNCOV: (N, d, H, W) -> (N, d (d + 1) / 2)."""
    n, d = x.shape[:2]
    x = x.reshape(n, d, -1)
    m = x.size(2)
    i_hat = -torch.ones(m, m) / (m * m) + torch.eye(m) / m
    a = x @ i_hat @ x.transpose(1, 2)
    norm = a.diagonal(dim1=1, dim2=2).sum(-1).view(n, 1, 1)
    a = a / norm
    i3 = 3 * torch.eye(d)
    zy = 0.5 * (i3 - a)
    y, z = a @ zy, zy
    for _ in range(1, iter_n - 1):
        zy = 0.5 * (i3 - z @ y)
        y, z = y @ zy, zy @ z
    y = 0.5 * y @ (i3 - z @ y) * norm.sqrt()
    return y.flatten(1)[:, torch.ones(d, d).triu().flatten().bool()]


def reduction(in_channels: int, reduced: int) -> nn.Sequential:
    """The authors' ``dimension_reduction``."""
    return nn.Sequential(
        nn.Conv2d(in_channels, reduced, 1, bias=False),
        nn.BatchNorm2d(reduced), nn.ReLU6(inplace=True))


class AuthorsMobileNetV2GCP(nn.Module):
    """MobileNetV2_MPNCOV (reduced=256) / MobileNetV2_MPNCOV_128."""

    def __init__(self, reduced: int, num_classes: int):
        super().__init__()
        self.features = mobilenet_v2().features
        self.dimension_reduction = reduction(1280, reduced)
        self.classifier = nn.Sequential(
            nn.Dropout(0.2),
            nn.Linear(reduced * (reduced + 1) // 2, num_classes))

    def forward(self, x):
        x = self.dimension_reduction(self.features(x))
        return self.classifier(authors_isqrt_triu(x))


class AuthorsShuffleNetV2GCP(nn.Module):
    """ShuffleNetV2_MPNCOV ([4, 8, 4], [24, 116, 232, 464, 1024])."""

    def __init__(self, num_classes: int):
        super().__init__()
        net = shufflenet_v2_x1_0()
        for name in ('conv1', 'maxpool', 'stage2', 'stage3', 'stage4',
                     'conv5'):
            setattr(self, name, getattr(net, name))
        self.dimension_reduction = reduction(1024, 256)
        self.fc = nn.Linear(32896, num_classes)

    def forward(self, x):
        x = self.maxpool(self.conv1(x))
        x = self.conv5(self.stage4(self.stage3(self.stage2(x))))
        return self.fc(authors_isqrt_triu(self.dimension_reduction(x)))


class DataParallelLike(nn.Module):
    """Gives the ``module.`` prefix of ``nn.DataParallel(model)``."""

    def __init__(self, module):
        super().__init__()
        self.module = module


def randomize(model: nn.Module) -> nn.Module:
    """Random weights; BN statistics from a batch (so the eval-mode
    features are of unit scale), then perturbed."""
    torch.manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
                m.momentum = None
            elif isinstance(m, nn.Linear):
                m.weight.normal_(0, 0.1)
                m.bias.normal_(0, 0.01)
        model.train()(torch.randn(2, 3, 64, 64))
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_var.mul_(torch.empty_like(m.running_var).uniform_(
                    0.8, 1.2))
                m.num_batches_tracked.fill_(1234)
    return model.eval()


def save_authors_checkpoint(model: nn.Module, path: str, arch: str) -> None:
    torch.save(
        {
            'epoch': 90,
            'arch': arch,
            'state_dict': DataParallelLike(model).state_dict(),
            'best_acc1': torch.tensor(74.39),
        }, path)


def build_from_config(config: str, num_classes: int) -> nn.Module:
    cfg = Config.fromfile(osp.join(ROOT, config))
    cfg.model.head.num_classes = num_classes
    return PRETRAIN_MODELS.build(cfg.model)


@pytest.mark.parametrize('family,reduced,config', [
    ('MobileNetV2', 256, 'configs/gcp/gcp_mobilenet-v2_4xb24_lrnorm_in1k.py'),
    ('MobileNetV2', 128,
     'configs/gcp/gcp-128d_mobilenet-v2_4xb24_lrnorm_in1k.py'),
    ('ShuffleNetV2', 256,
     'configs/gcp/gcp_shufflenet-v2-1x_16xb64_lrnorm_in1k.py'),
])
def test_converted_model_matches_authors(tmp_path, family, reduced, config):
    num_classes = 10
    if family == 'MobileNetV2':
        authors = AuthorsMobileNetV2GCP(reduced, num_classes)
        arch = 'mobilenet_v2_mpncov' + ('_128' if reduced == 128 else '')
    else:
        authors = AuthorsShuffleNetV2GCP(num_classes)
        arch = 'shufflenet_v2_mpncov_x1_0'
    authors = randomize(authors)
    src, dst = tmp_path / 'authors.pth.tar', tmp_path / 'out' / 'gcp.pth'
    save_authors_checkpoint(authors, str(src), arch)

    assert gcp2mmext.main([str(src), str(dst)]) == 0
    ckpt = torch.load(str(dst), map_location='cpu', weights_only=True)
    meta = ckpt['meta']
    assert meta['config'] == config
    assert meta['backbone'] == dict(type=family, widen_factor=1.0)
    assert meta['neck']['reduced_channels'] == reduced
    assert meta['num_classes'] == num_classes
    assert meta['source_arch'] == arch and meta['source_epoch'] == 90

    model = build_from_config(config, num_classes).eval()
    model.load_state_dict(ckpt['state_dict'], strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = authors(x)
        torch.testing.assert_close(
            model(x, mode='tensor'), expected, rtol=1e-4, atol=1e-4)
    # A check that can fail: the logits depend on the input.
    assert (expected[0] - expected[1]).abs().max() > 1e-3


def test_key_mapping():
    mb, sh = gcp2mmext.map_gcp_mobilenet_v2_key, \
        gcp2mmext.map_gcp_shufflenet_v2_key
    assert mb('features.0.1.running_var') == 'backbone.conv1.bn.running_var'
    assert mb('features.3.conv.1.0.weight') == \
        'backbone.layer2.1.conv.1.conv.weight'
    assert mb('features.18.0.weight') == 'backbone.conv2.conv.weight'
    assert mb('dimension_reduction.1.bias') == 'neck.reduce.bn.bias'
    assert mb('classifier.1.weight') == 'head.fc.weight'
    assert sh('stage3.0.branch1.2.weight') == \
        'backbone.layers.1.0.branch1.1.conv.weight'
    assert sh('stage4.3.branch2.6.running_mean') == \
        'backbone.layers.2.3.branch2.2.bn.running_mean'
    assert sh('conv5.1.weight') == 'backbone.layers.3.bn.weight'
    assert sh('dimension_reduction.0.weight') == 'neck.reduce.conv.weight'
    for bad in ('stage2.0.branch2.2.weight', 'stage2.0.branch1.0.bias',
                'conv5.2.weight', 'fc.extra'):
        with pytest.raises(KeyError, match='unexpected key'):
            sh(bad)
    for bad in ('dimension_reduction.2.weight', 'classifier.0.weight',
                'features.1.conv.3.conv.weight'):
        with pytest.raises(KeyError, match='unexpected key'):
            mb(bad)


@pytest.fixture(scope='module')
def mobilenet_state_dict():
    model = AuthorsMobileNetV2GCP(128, 5)
    return {'module.' + k: v for k, v in model.state_dict().items()}


def _run(tmp_path, capsys, state_dict):
    src = tmp_path / 'bad.pth'
    torch.save({'state_dict': state_dict}, str(src))
    assert gcp2mmext.main([str(src), str(tmp_path / 'out.pth')]) == 1
    assert not (tmp_path / 'out.pth').exists()
    err = capsys.readouterr().err
    assert err.startswith(f'error: {src}')
    return err


def test_unknown_and_missing_keys(tmp_path, capsys, mobilenet_state_dict):
    sd = dict(mobilenet_state_dict)  # an ECA-MobileNetV2 layer
    sd['module.features.1.conv.3.conv.weight'] = torch.zeros(1, 1, 3)
    assert "unexpected key 'features.1.conv.3.conv.weight'" in _run(
        tmp_path, capsys, sd)

    sd = dict(mobilenet_state_dict)
    sd['module.head.weight'] = torch.zeros(3)
    assert "unexpected key 'head.weight'" in _run(tmp_path, capsys, sd)

    sd = dict(mobilenet_state_dict)
    del sd['module.features.7.conv.2.weight']
    assert "lacks 'backbone.layer4.0.conv.2.conv.weight'" in _run(
        tmp_path, capsys, sd)

    gap = {k: v for k, v in mobilenet_state_dict.items()
           if 'dimension_reduction' not in k}
    assert "no 'dimension_reduction.0.weight'" in _run(tmp_path, capsys, gap)

    sd = dict(mobilenet_state_dict)
    sd['module.classifier.1.weight'] = torch.zeros(5, 32896)
    assert "shape of 'head.fc.weight' is (5, 32896)" in _run(
        tmp_path, capsys, sd)


def test_foreign_checkpoints(tmp_path, capsys):
    resnet = {'module.layer1.0.conv1.weight': torch.zeros(64, 64, 1, 1)}
    assert 'isqrt_cov2mmext.py' in _run(tmp_path, capsys, resnet)
    other = {'blocks.0.attn.qkv.weight': torch.zeros(3, 3)}
    assert "first key 'blocks.0.attn.qkv.weight'" in _run(
        tmp_path, capsys, other)
    narrow = {'stage2.0.branch1.2.weight': torch.zeros(30, 24, 1, 1)}
    assert 'stage2 has 60 channels' in _run(tmp_path, capsys, narrow)
    assert gcp2mmext.main([str(tmp_path / 'missing.pth'),
                           str(tmp_path / 'out.pth')]) == 1
    assert 'missing.pth' in capsys.readouterr().err
