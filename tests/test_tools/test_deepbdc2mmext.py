"""tools/model_converters/deepbdc2mmext.py against re-creations of the
DeepBDC authors' models (their module names and forward, random weights):
the converted mmext model gives the same features and logits."""
import importlib.util
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmpretrain.registry import MODELS
from mmengine.runner import load_checkpoint

import mmext  # noqa: F401

SCRIPT = osp.join(
    osp.dirname(__file__), '..', '..', 'tools', 'model_converters',
    'deepbdc2mmext.py')
spec = importlib.util.spec_from_file_location('deepbdc2mmext', SCRIPT)
deepbdc2mmext = importlib.util.module_from_spec(spec)
spec.loader.exec_module(deepbdc2mmext)


class AuthorsBlock12(nn.Module):
    """BasicBlockVariant (DropBlock off)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv3 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.LeakyReLU(0.1)
        self.downsample = nn.Sequential(
            nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.maxpool = nn.MaxPool2d(stride)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out)) + self.downsample(x)
        return self.maxpool(self.relu(out))


class AuthorsResNet12(nn.Module):

    def __init__(self, widths):
        super().__init__()
        cin = 3
        for i, (w, s) in enumerate(zip(widths, (2, 2, 2, 1)), 1):
            setattr(self, f'layer{i}', nn.Sequential(AuthorsBlock12(cin, w,
                                                                    s)))
            cin = w

    def forward(self, x):
        for i in range(1, 5):
            x = getattr(self, f'layer{i}')(x)
        return x


class AuthorsSimpleBlock(nn.Module):

    def __init__(self, cin, cout, half_res):
        super().__init__()
        self.C1 = nn.Conv2d(cin, cout, 3, 2 if half_res else 1, 1,
                            bias=False)
        self.BN1 = nn.BatchNorm2d(cout)
        self.C2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.BN2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.has_short = cin != cout
        if self.has_short:
            self.shortcut = nn.Conv2d(cin, cout, 1, 2 if half_res else 1,
                                      bias=False)
            self.BNshortcut = nn.BatchNorm2d(cout)

    def forward(self, x):
        out = self.BN2(self.C2(self.relu(self.BN1(self.C1(x)))))
        short = self.BNshortcut(self.shortcut(x)) if self.has_short else x
        return self.relu(out + short)


class AuthorsResNet18(nn.Module):

    def __init__(self):
        super().__init__()
        trunk = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64),
                 nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
        cin = 64
        for i, w in enumerate((64, 128, 256, 512)):
            for j in range(2):
                trunk.append(AuthorsSimpleBlock(
                    cin, w, i >= 1 and j == 0 and i != 3))
                cin = w
        self.trunk = nn.Sequential(*trunk)

    def forward(self, x):
        return self.trunk(x)


class AuthorsBDC(nn.Module):
    """bdc_module.BDC with is_vec=True (the authors' matrix products)."""

    def __init__(self, in_dim, dr, hw):
        super().__init__()
        self.dr = dr
        if dr != in_dim:
            self.conv_dr_block = nn.Sequential(
                nn.Conv2d(in_dim, dr, 1, bias=False), nn.BatchNorm2d(dr),
                nn.ReLU())
        self.temperature = nn.Parameter(
            torch.log(torch.tensor(1. / (2 * hw))) * torch.ones(1, 1))

    def forward(self, x):
        if hasattr(self, 'conv_dr_block'):
            x = self.conv_dr_block(x)
        b, d = x.shape[:2]
        x = x.reshape(b, d, -1)
        eye = torch.eye(d).expand(b, d, d)
        ones = torch.ones(b, d, d)
        x2 = x.bmm(x.transpose(1, 2))
        dcov = ones.bmm(x2 * eye) + (x2 * eye).bmm(ones) - 2 * x2
        dcov = torch.sqrt(
            torch.exp(self.temperature) * dcov.clamp(min=0) + 1e-5)
        t = (dcov - dcov.bmm(ones) / d - ones.bmm(dcov) / d +
             ones.bmm(dcov).bmm(ones) / d**2)
        r, c = torch.triu_indices(d, d)
        return t[:, r, c]


class AuthorsModel(nn.Module):

    def __init__(self, feature, in_dim, dr, hw, num_classes=None):
        super().__init__()
        self.feature = feature
        self.dcov = AuthorsBDC(in_dim, dr, hw)
        if num_classes:
            self.classifier = nn.Linear(dr * (dr + 1) // 2, num_classes)

    def forward(self, x):
        f = self.dcov(self.feature(x))
        return self.classifier(f) if hasattr(self, 'classifier') else f


def _randomise(model):
    torch.manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            for t in (m.weight, m.bias, m.running_mean):
                t.data.uniform_(-0.5, 0.5)
            m.running_var.data.uniform_(0.5, 1.5)
    model.dcov.temperature.data.fill_(-3.)
    return model.eval()


@pytest.mark.parametrize('arch', ['resnet12_pretrain', 'resnet18_meta'])
def test_converted_model_matches_authors(arch, tmp_path):
    if arch == 'resnet12_pretrain':
        authors = AuthorsModel(AuthorsResNet12((8, 8, 16, 16)), 16, 6, 4,
                               num_classes=5)
        x = torch.randn(2, 3, 20, 20)
    else:
        authors = AuthorsModel(AuthorsResNet18(), 512, 8, 4)
        x = torch.randn(2, 3, 32, 32)
    _randomise(authors)
    src = str(tmp_path / 'best_model.tar')
    torch.save({'epoch': 7, 'state': authors.state_dict()}, src)
    dst = str(tmp_path / 'converted.pth')
    assert deepbdc2mmext.main([src, dst]) == 0
    meta = torch.load(dst, weights_only=False)['meta']
    cfg = meta['model']
    assert meta['source_epoch'] == 7
    if arch == 'resnet12_pretrain':
        assert cfg['type'] == 'ImageClassifier'
        cfg['backbone']['widths'] = (8, 8, 16, 16)
    else:
        assert cfg['type'] == 'EpisodicClassifier'
    model = MODELS.build(cfg).eval()
    load_checkpoint(model, dst, strict=True)
    with torch.no_grad():
        expected = authors(x)
        feats = model.extract_feat(x)
        feats = feats[-1] if isinstance(feats, tuple) else feats
        if cfg['type'] == 'ImageClassifier':
            out = model.head.fc(feats)
        else:
            out = feats
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)


def test_unknown_key_is_named(tmp_path, capsys):
    src = str(tmp_path / 'x.tar')
    torch.save({'state': {'feature.layer1.0.conv1.weight': torch.zeros(1),
                          'encoder.w': torch.zeros(1)}}, src)
    assert deepbdc2mmext.main([src, str(tmp_path / 'y.pth')]) == 1
    assert "'encoder.w'" in capsys.readouterr().err
