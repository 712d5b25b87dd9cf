"""ISQRTCOVNeck: shapes, the authors' parameter counts, gradients, and the
pooled vector against an eigendecomposition square root."""
import importlib.util
import os.path as osp

import pytest
import torch
from mmpretrain.registry import MODELS as PRETRAIN_MODELS
from torchvision.models import resnet as tv_resnet

import mmext  # noqa: F401
from mmext.models.necks import ISQRTCOVNeck
from mmext.models.necks.isqrt_cov import convert_mpncov_resnet

SCRIPT = osp.join(
    osp.dirname(__file__), '..', '..', '..', 'tools', 'model_converters',
    'isqrt_cov2mmext.py')


def _load_converter():
    spec = importlib.util.spec_from_file_location('isqrt_cov2mmext', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


converter = _load_converter()


def _classifier(depth: int) -> dict:
    return dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet', depth=depth, strides=(1, 2, 2, 1)),
        neck=dict(type='ISQRTCOVNeck', in_channels=2048, reduced_channels=256,
                  num_iter=5),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=32896))


@pytest.mark.parametrize('depth,params', [(50, 56_929_832),
                                          (101, 75_921_960)])
def test_param_count_matches_authors(depth, params):
    model = PRETRAIN_MODELS.build(_classifier(depth))
    assert sum(p.numel() for p in model.parameters()) == params


def test_shapes_and_gradients():
    neck = ISQRTCOVNeck(in_channels=16, reduced_channels=8, num_iter=3)
    assert neck.out_channels == 36
    x = torch.randn(2, 16, 5, 5, requires_grad=True)
    (out, ) = neck((torch.randn(2, 4, 9, 9), x))
    assert out.shape == (2, 36)
    out.square().sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert neck.reduce.conv.weight.grad.abs().sum() > 0
    full = ISQRTCOVNeck(in_channels=16, reduced_channels=None, triu=False)
    assert full((x, ))[0].shape == (2, 256)
    with pytest.raises(ValueError, match='expects input'):
        neck((torch.randn(2, 8, 5, 5), ))
    with pytest.raises(ValueError, match='num_iter'):
        ISQRTCOVNeck(num_iter=0)


def test_pooling_is_converged_square_root():
    neck = ISQRTCOVNeck(in_channels=6, reduced_channels=None, num_iter=25)
    x = torch.randn(3, 6, 10, 10, dtype=torch.float64)
    (out, ) = neck(x.float())
    xf = x.flatten(2)
    xc = xf - xf.mean(2, keepdim=True)
    sigma = xc @ xc.transpose(1, 2) / xf.size(2)
    w, v = torch.linalg.eigh(sigma)
    root = v @ torch.diag_embed(w.sqrt()) @ v.transpose(1, 2)
    rows, cols = torch.triu_indices(6, 6)
    torch.testing.assert_close(out.double(), root[:, rows, cols], rtol=1e-4,
                               atol=1e-5)


def authors_isqrt_triu(x: torch.Tensor) -> torch.Tensor:
    """The authors' CovpoolLayer, SqrtmLayer(5), TriuvecLayer written out:
    (N, d, H, W) -> (N, d (d + 1) / 2)."""
    d = x.size(1)
    x = x.flatten(2)
    xc = x - x.mean(2, keepdim=True)
    a = xc @ xc.transpose(1, 2) / x.size(2)
    tr = a.diagonal(dim1=1, dim2=2).sum(-1).view(-1, 1, 1)
    a = a / tr
    eye = torch.eye(d)
    z = 0.5 * (3 * eye - a)
    y = a @ z
    for _ in range(3):
        t = 0.5 * (3 * eye - z @ y)
        y, z = y @ t, t @ z
    y = y @ (0.5 * (3 * eye - z @ y)) * tr.sqrt()
    rows, cols = torch.triu_indices(d, d)
    return y[:, rows, cols]


class AuthorsMPNCOVResNet(torch.nn.Module):
    """The authors' MPNCOVResNet layout (fast-MPN-COV; GCP_Optimization's
    ResNet_MPNCOV / ResNet_MPNCOV_128 use the same names): a torchvision
    ResNet with layer4 at stride 1 (2 with ``layer4_stride=2``, torchvision's
    own), layer_reduce(_bn), fc, with iSQRT-COV written out here."""

    def __init__(self, arch: str = 'resnet50', reduced: int = 256,
                 layer4_stride: int = 1, num_classes: int = 1000):
        super().__init__()
        net = getattr(tv_resnet, arch)()
        first = net.layer4[0]
        # the stride sits in conv2 (Bottleneck) or conv1 (BasicBlock)
        (first.conv2 if hasattr(first, 'conv3') else first.conv1).stride = \
            (layer4_stride, layer4_stride)
        first.downsample[0].stride = (layer4_stride, layer4_stride)
        for name in ('conv1', 'bn1', 'relu', 'maxpool', 'layer1', 'layer2',
                     'layer3', 'layer4'):
            setattr(self, name, getattr(net, name))
        self.layer_reduce = torch.nn.Conv2d(
            net.fc.in_features, reduced, 1, bias=False)
        self.layer_reduce_bn = torch.nn.BatchNorm2d(reduced)
        self.layer_reduce_relu = torch.nn.ReLU(inplace=True)
        self.fc = torch.nn.Linear(reduced * (reduced + 1) // 2, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.layer_reduce_relu(self.layer_reduce_bn(self.layer_reduce(x)))
        return self.fc(authors_isqrt_triu(x))


class DataParallelLike(torch.nn.Module):
    """Stands for ``nn.DataParallel`` / DDP: the wrapped module is
    ``.module``, hence the ``module.`` in the saved keys."""

    def __init__(self, module: torch.nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x):
        return self.module(x)


class AuthorsMainModel(torch.nn.Module):
    """The model fast-MPN-COV's ``main.py`` trains and saves: ``Newmodel``
    (``model_init.py``, ``src/network/base.py``) around ``MPNCOVResNet`` or
    torchvision's ResNet. ``features`` is ``nn.Sequential`` over the
    network's children: up to layer4 when trained from scratch, where the
    ``MPNCOV`` representation holds the reduction as ``conv_dr_block``; up to
    ``layer_reduce_relu`` when fine-tuning a released model, where the
    representation has no weights. ``main.py`` wraps only ``features`` in
    DataParallel (``wrap='features'``) or, distributed, the whole model
    (``wrap='model'``)."""

    def __init__(self, net: AuthorsMPNCOVResNet, finetune: bool,
                 wrap: str):
        super().__init__()
        children = list(net.children())  # conv1 ... layer4, reduction, fc
        features = torch.nn.Sequential(*children[:-1 if finetune else -4])
        self.features = DataParallelLike(features) if wrap == 'features' \
            else features
        self.representation = torch.nn.Module()
        if not finetune:
            self.representation.conv_dr_block = torch.nn.Sequential(
                *children[-4:-1])
        self.classifier = net.fc

    def forward(self, x):
        x = self.features(x)
        if hasattr(self.representation, 'conv_dr_block'):
            x = self.representation.conv_dr_block(x)
        return self.classifier(authors_isqrt_triu(x))


def _random_bn_statistics(model: torch.nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)


def _converted_model(dst: str, meta: dict, in_channels: int, reduced: int):
    cfg = _classifier(meta['backbone']['depth'])
    cfg['backbone'] = meta['backbone']
    cfg['neck'].update(in_channels=in_channels, reduced_channels=reduced)
    cfg['head'].update(in_channels=reduced * (reduced + 1) // 2,
                       num_classes=meta['num_classes'])
    model = PRETRAIN_MODELS.build(cfg).eval()
    ckpt = torch.load(dst, map_location='cpu')
    model.load_state_dict(ckpt['state_dict'], strict=True)
    return model


@pytest.mark.parametrize('arch,reduced,depth', [('resnet50', 256, 50),
                                                 ('resnet18', 128, 18)])
def test_converter_reproduces_authors_model(tmp_path, arch, reduced, depth):
    """iSQRT-COV ResNet-50 and a GCP ResNet-18 with the 128-d head."""
    torch.manual_seed(0)
    authors = AuthorsMPNCOVResNet(arch, reduced).eval()
    _random_bn_statistics(authors)
    src = tmp_path / f'mpncov{arch}.pth'
    torch.save({'state_dict': {'module.' + k: v for k, v in
                               authors.state_dict().items()}}, str(src))
    meta = converter.convert(str(src), str(tmp_path / 'out.pth'))
    assert meta['backbone']['depth'] == depth and meta['num_classes'] == 1000
    assert meta['backbone']['strides'] == (1, 2, 2, 1)
    assert meta['neck']['reduced_channels'] == reduced
    model = _converted_model(str(tmp_path / 'out.pth'), meta,
                             authors.layer_reduce.in_channels, reduced)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x, mode='tensor'), authors(x),
                                   rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    'arch,finetune,wrap,depth,strides',
    [('mpncovresnet50', False, 'features', 50, (1, 2, 2, 1)),
     ('mpncovresnet50', True, 'features', 50, (1, 2, 2, 1)),
     ('resnet18', False, 'model', 18, (1, 2, 2, 2))])
def test_converter_reproduces_authors_main_py_checkpoint(
        tmp_path, arch, finetune, wrap, depth, strides):
    """Checkpoints of fast-MPN-COV's main.py (features.N, conv_dr_block,
    classifier; DataParallel around features or DDP around the model),
    trained from scratch or fine-tuned from a release; ``--arch resnetXX``
    keeps torchvision's layer4 stride 2."""
    torch.manual_seed(0)
    net = AuthorsMPNCOVResNet(
        arch.replace('mpncov', ''), 256,
        layer4_stride=1 if arch.startswith('mpncov') else 2, num_classes=10)
    authors = AuthorsMainModel(net, finetune, wrap)
    if wrap == 'model':
        authors = DataParallelLike(authors)
    authors.eval()
    _random_bn_statistics(authors)
    optimizer = torch.optim.SGD(authors.parameters(), lr=0.1, momentum=0.9)
    src = tmp_path / 'model_best.pth.tar'
    torch.save({'epoch': 3, 'arch': arch, 'state_dict': authors.state_dict(),
                'best_prec1': torch.tensor(12.5),
                'optimizer': optimizer.state_dict()}, str(src))
    first_key = next(iter(authors.state_dict()))
    assert first_key == {'features': 'features.module.0.weight',
                         'model': 'module.features.0.weight'}[wrap]
    dst = str(tmp_path / 'out.pth')
    assert converter.main([str(src), dst]) == 0
    meta = torch.load(dst, map_location='cpu')['meta']
    assert meta['backbone'] == dict(type='ResNet', depth=depth,
                                    strides=strides)
    model = _converted_model(dst, meta, net.layer_reduce.in_channels, 256)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x, mode='tensor'), authors(x),
                                   rtol=1e-4, atol=1e-4)


def test_converter_errors(tmp_path):
    with pytest.raises(KeyError, match="the key 'head.weight'"):
        convert_mpncov_resnet({'head.weight': torch.zeros(1)})
    src = tmp_path / 'no_head.pth'
    torch.save({'conv1.weight': torch.zeros(64, 3, 7, 7)}, str(src))
    with pytest.raises(KeyError, match="no 'layer_reduce.weight'"):
        converter.convert(str(src), str(tmp_path / 'out.pth'))
