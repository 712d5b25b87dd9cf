"""tools/model_converters/eca2mmext.py against re-creations of the authors'
ECA-ResNet / ECA-MobileNetV2 (BangguWu/ECANet) with random weights."""
import importlib.util
import os.path as osp

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS as PRETRAIN_MODELS
from torchvision.models import mobilenet_v2
from torchvision.models import resnet as tv_resnet

import mmext  # noqa: F401

SCRIPT = osp.join(
    osp.dirname(__file__), '..', '..', 'tools', 'model_converters',
    'eca2mmext.py')


def load_script():
    spec = importlib.util.spec_from_file_location('eca2mmext', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


eca2mmext = load_script()

# ---------------------------------------------------------------------------
# The authors' layout: torchvision names, an ``eca`` with a bias-free
# ``conv`` (Conv1d) in each block, applied after the last BN before the add.
# ---------------------------------------------------------------------------


class AuthorsECA(nn.Module):

    def __init__(self, k):
        super().__init__()
        self.conv = nn.Conv1d(1, 1, k, padding=(k - 1) // 2, bias=False)

    def forward(self, x):
        n, c = x.shape[:2]
        y = F.adaptive_avg_pool2d(x, 1).view(n, 1, c)
        return x * torch.sigmoid(self.conv(y)).view(n, c, 1, 1)


class AuthorsBasicBlock(tv_resnet.BasicBlock):

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.eca(self.bn2(self.conv2(out)))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class AuthorsBottleneck(tv_resnet.Bottleneck):

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.eca(self.bn3(self.conv3(out)))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class DataParallelLike(nn.Module):
    """Gives the ``module.`` prefix of ``nn.DataParallel(model)``."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        return self.module(x)


def randomize(model):
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.normal_(0, 0.5 if 'eca' in name else 0.1)
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(1234)
    return model.eval()


def authors_resnet(depth, kernel_sizes, num_classes):
    block, layers = {
        18: (AuthorsBasicBlock, [2, 2, 2, 2]),
        50: (AuthorsBottleneck, [3, 4, 6, 3]),
    }[depth]
    model = tv_resnet.ResNet(block, layers, num_classes=num_classes)
    for stage, k in enumerate(kernel_sizes, 1):
        for b in getattr(model, f'layer{stage}'):
            b.eca = AuthorsECA(k)
    return randomize(DataParallelLike(model))


def authors_mobilenet_v2(num_classes, first_k1_channels=96):
    """torchvision's MobileNetV2 has the authors' names; their blocks append
    the ECA to ``conv`` (k = 1 below ``first_k1_channels`` channels, else 3;
    96 is their current rule, 97 their first commit's ``c <= 96``)."""
    model = mobilenet_v2(num_classes=num_classes)
    for block in model.features[1:-1]:
        k = 1 if block.out_channels < first_k1_channels else 3
        block.conv.append(AuthorsECA(k))
    return randomize(DataParallelLike(model))


def save_authors_checkpoint(model, path, arch):
    torch.save(
        {
            'epoch':
            100,
            'arch':
            arch,
            'state_dict':
            model.state_dict(),
            'best_prec1':
            torch.tensor(77.42),
            'optimizer':
            torch.optim.SGD(model.parameters(), lr=0.1,
                            momentum=0.9).state_dict(),
        }, path)


def build_converted(dst):
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    assert set(ckpt) == {'state_dict', 'meta'}
    meta = ckpt['meta']
    backbone = dict(meta['backbone'])
    in_channels = {
        'ECAMobileNetV2': 1280
    }.get(backbone['type'], 512 if backbone.get('depth', 50) < 50 else 2048)
    model = PRETRAIN_MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=backbone,
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead',
                num_classes=meta['num_classes'],
                in_channels=in_channels)))
    model.load_state_dict(ckpt['state_dict'], strict=True)
    return model.eval(), meta


@pytest.mark.parametrize('depth,sizes,num_classes', [(18, (3, 5, 7, 7), 1000),
                                                     (50, (3, 5, 5, 7), 10)])
def test_resnet_outputs_match(tmp_path, depth, sizes, num_classes):
    authors = authors_resnet(depth, sizes, num_classes)
    src = str(tmp_path / f'eca_resnet{depth}.pth.tar')
    dst = str(tmp_path / 'out' / 'converted.pth')  # dir made by mmengine
    save_authors_checkpoint(authors, src, f'eca_resnet{depth}')

    assert eca2mmext.main([src, dst]) == 0
    model, meta = build_converted(dst)
    assert meta['arch'] == f'eca_resnet{depth}'
    assert meta['backbone'] == dict(
        type='ECAResNet', depth=depth, eca_kernel_sizes=sizes)
    assert meta['num_classes'] == num_classes
    assert meta['source_epoch'] == 100
    assert meta['source_best_prec1'] == pytest.approx(77.42)
    sd = torch.load(dst, weights_only=True)['state_dict']
    assert sd['backbone.layer1.0.eca.conv.weight'].shape == (1, 1, sizes[0])
    assert 'head.fc.weight' in sd and 'backbone.bn1.running_var' in sd

    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = authors(x)
        got = model(x, mode='tensor')
    assert got.shape == (2, num_classes)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('first_k1_channels,sizes', [
    (96, (1, 1, 1, 1, 3, 3, 3)),
    (97, (1, 1, 1, 1, 1, 3, 3)),
])
def test_mobilenet_v2_outputs_match(tmp_path, first_k1_channels, sizes):
    authors = authors_mobilenet_v2(100, first_k1_channels)
    src = str(tmp_path / 'eca_mobilenetv2_k13.pth.tar')
    dst = str(tmp_path / 'converted.pth')
    save_authors_checkpoint(authors, src, 'eca_mobilenet_v2')

    assert eca2mmext.main([src, dst, '--arch', 'eca_mobilenet_v2']) == 0
    model, meta = build_converted(dst)
    assert meta['backbone'] == dict(
        type='ECAMobileNetV2', eca_kernel_sizes=sizes)
    assert meta['num_classes'] == 100
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = authors(x)
        got = model(x, mode='tensor')
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_filter_fn_key_mapping():
    from mmext.models.backbones.eca_mobilenet_v2 import \
        checkpoint_filter_fn as mbv2_filter
    from mmext.models.backbones.eca_resnet import \
        checkpoint_filter_fn as resnet_filter

    sd = authors_resnet(18, (3, 5, 7, 7), 1000).state_dict()
    out = resnet_filter(sd, 18)
    assert out['backbone.layer2.0.downsample.1.running_mean'] is sd[
        'module.layer2.0.downsample.1.running_mean']
    assert out['backbone.layer4.1.eca.conv.weight'] is sd[
        'module.layer4.1.eca.conv.weight']
    assert out['head.fc.bias'] is sd['module.fc.bias']
    # the prefix is optional
    unwrapped = {k[len('module.'):]: v for k, v in sd.items()}
    assert resnet_filter(unwrapped).keys() == out.keys()
    with pytest.raises(ValueError, match='ECA-ResNet-50'):
        resnet_filter(sd, 50)

    sd = authors_mobilenet_v2(1000).state_dict()
    out = mbv2_filter(sd)
    pairs = {
        'features.0.0.weight': 'backbone.conv1.conv.weight',
        'features.0.1.running_var': 'backbone.conv1.bn.running_var',
        'features.1.conv.0.0.weight': 'backbone.layer1.0.conv.0.conv.weight',
        'features.1.conv.2.bias': 'backbone.layer1.0.conv.1.bn.bias',
        'features.1.conv.3.conv.weight': 'backbone.layer1.0.eca.conv.weight',
        'features.3.conv.1.1.weight': 'backbone.layer2.1.conv.1.bn.weight',
        'features.7.conv.2.weight': 'backbone.layer4.0.conv.2.conv.weight',
        'features.17.conv.3.running_mean':
        'backbone.layer7.0.conv.2.bn.running_mean',
        'features.16.conv.4.conv.weight': 'backbone.layer6.2.eca.conv.weight',
        'features.18.0.weight': 'backbone.conv2.conv.weight',
        'classifier.1.weight': 'head.fc.weight',
    }
    for src, dst in pairs.items():
        assert out[dst] is sd['module.' + src], src


def test_missing_file(tmp_path, capsys):
    missing = str(tmp_path / 'nope.pth.tar')
    with pytest.raises(FileNotFoundError, match='nope.pth.tar'):
        eca2mmext.convert(missing, str(tmp_path / 'out.pth'))
    assert eca2mmext.main([missing, str(tmp_path / 'out.pth')]) == 1
    assert 'nope.pth.tar' in capsys.readouterr().err
    assert not (tmp_path / 'out.pth').exists()


def test_not_a_checkpoint(tmp_path, capsys):
    bad = tmp_path / 'notes.pth.tar'
    bad.write_text('these are not weights\n')
    with pytest.raises(ValueError, match='notes.pth.tar'):
        eca2mmext.convert(str(bad), str(tmp_path / 'out.pth'))
    # a loadable file that holds no state_dict
    empty = tmp_path / 'empty.pth'
    torch.save({'epoch': 3}, empty)
    assert eca2mmext.main([str(empty), str(tmp_path / 'out.pth')]) == 1
    err = capsys.readouterr().err
    assert 'empty.pth' in err and 'epoch' in err
    # truncated
    good = tmp_path / 'good.pth'
    save_authors_checkpoint(
        authors_resnet(18, (3, 5, 7, 7), 10), str(good), 'eca_resnet18')
    trunc = tmp_path / 'trunc.pth'
    trunc.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(ValueError, match='trunc.pth'):
        eca2mmext.convert(str(trunc), str(tmp_path / 'out.pth'))
    assert not (tmp_path / 'out.pth').exists()


def test_unknown_and_missing_keys(tmp_path, capsys):
    sd = authors_resnet(18, (3, 5, 7, 7), 10).state_dict()

    extra = dict(sd)
    extra['module.layer1.0.se.fc.weight'] = torch.zeros(4, 64)
    src = str(tmp_path / 'extra.pth.tar')
    torch.save({'state_dict': extra}, src)
    with pytest.raises(KeyError, match='layer1.0.se.fc.weight'):
        eca2mmext.convert(src, str(tmp_path / 'out.pth'))
    assert eca2mmext.main([src, str(tmp_path / 'out.pth')]) == 1
    err = capsys.readouterr().err
    assert 'extra.pth.tar' in err and 'layer1.0.se.fc.weight' in err

    missing = dict(sd)
    del missing['module.layer2.1.bn1.running_mean']
    src = str(tmp_path / 'missing.pth.tar')
    torch.save({'state_dict': missing}, src)
    with pytest.raises(KeyError, match='layer2.1.bn1.running_mean'):
        eca2mmext.convert(src, str(tmp_path / 'out.pth'))

    # an ECA-less (plain torchvision) ResNet is not an ECA checkpoint
    plain = {
        f'module.{k}': v
        for k, v in tv_resnet.resnet18().state_dict().items()
    }
    src = str(tmp_path / 'plain.pth.tar')
    torch.save({'state_dict': plain}, src)
    with pytest.raises(KeyError, match='eca.conv.weight'):
        eca2mmext.convert(src, str(tmp_path / 'out.pth'))

    # checkpoints without BN's num_batches_tracked (old PyTorch) convert
    old = {k: v for k, v in sd.items() if 'num_batches_tracked' not in k}
    src = str(tmp_path / 'old.pth.tar')
    torch.save({'state_dict': old}, src)
    eca2mmext.convert(src, str(tmp_path / 'out.pth'))
    assert (tmp_path / 'out.pth').exists()

    # wrong arch
    src = str(tmp_path / 'r18.pth.tar')
    torch.save({'state_dict': sd}, src)
    with pytest.raises(ValueError, match='eca_mobilenet_v2'):
        eca2mmext.convert(
            src, str(tmp_path / 'out2.pth'), arch='eca_mobilenet_v2')
    with pytest.raises(ValueError, match='ECA-ResNet-18'):
        eca2mmext.convert(src, str(tmp_path / 'out2.pth'), arch='eca_resnet34')
