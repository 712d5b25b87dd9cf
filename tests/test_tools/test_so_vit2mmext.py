"""tools/model_converters/so_vit2mmext.py against a re-creation of the
authors' So_ViT (jiangtaoxie/So-ViT c2d076e: ``src/so_vit.py``,
``src/model/{visualTokens,vitBlock,classifier}.py``,
``src/representation/covariance.py``, ``src/normalization/svPN.py``) with
their module names and explicit attention, covariance and svPN loops."""
import argparse
import importlib.util
import os.path as osp

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmpretrain.registry import MODELS as PRETRAIN_MODELS

import mmext  # noqa: F401

SCRIPT = osp.join(
    osp.dirname(__file__), '..', '..', 'tools', 'model_converters',
    'so_vit2mmext.py')
CONFIGS = osp.join(osp.dirname(__file__), '..', '..', 'configs', 'so_vit')


def load_script():
    spec = importlib.util.spec_from_file_location('so_vit2mmext', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


so_vit2mmext = load_script()

# ---------------------------------------------------------------------------
# The authors' layout, written out.
# ---------------------------------------------------------------------------


class Bottleneck(nn.Module):
    """visualTokens.Bottleneck: planes 64, expansion 4, BN eps 1e-3."""

    def __init__(self, inplanes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, 64, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64, eps=1e-3, momentum=0.01)
        self.conv2 = nn.Conv2d(64, 64, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(64, eps=1e-3, momentum=0.01)
        self.conv3 = nn.Conv2d(64, 256, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(256, eps=1e-3, momentum=0.01)
        self.downsample = nn.Sequential(
            nn.Conv2d(inplanes, 256, 1, stride, bias=False),
            nn.BatchNorm2d(256))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        return F.relu(self.bn3(self.conv3(out)) + self.downsample(x))


class BaseConvModule(nn.Module):

    def __init__(self, dim):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 64, 3, 1, 1), nn.MaxPool2d(3, 2, 1))
        self.stage = nn.Sequential(
            Bottleneck(64, 2), Bottleneck(256, 2), Bottleneck(256, 2))
        self.transition = nn.Conv2d(256, dim, 1)

    def forward(self, x):
        x = self.transition(self.stage(self.stem(x)))
        return x.flatten(2).transpose(1, 2)


class VisualTokens(nn.Module):

    def __init__(self, dim):
        super().__init__()
        self.tokens = BaseConvModule(dim)


class Attention(nn.Module):

    def __init__(self, dim, heads, scale):
        super().__init__()
        self.heads, self.scale = heads, scale
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads,
                                      c // self.heads).permute(2, 0, 3, 1, 4)
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):

    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class ViTBlock(nn.Module):

    def __init__(self, dim, heads, mlp_ratio, scale):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, scale)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def conv_bn_relu(dim, out):
    return nn.Sequential(
        nn.Conv2d(dim, out, 1, bias=False), nn.BatchNorm2d(out),
        nn.ReLU())


class Covariance(nn.Module):

    def __init__(self, dim, dr):
        super().__init__()
        self.conv_dr_block = nn.Sequential(
            conv_bn_relu(dim, dr[0]), conv_bn_relu(dim, dr[1]))

    def forward(self, x):
        x1 = self.conv_dr_block[0](x).flatten(2)
        x2 = self.conv_dr_block[1](x).flatten(2)
        x1 = x1 - x1.mean(2, keepdim=True)
        x2 = x2 - x2.mean(2, keepdim=True)
        return x1.bmm(x2.transpose(1, 2)) / x1.size(2)


class SvPN(nn.Module):
    """svNum=1, iterNum=1, alpha=0.5, vec='full', in the authors'
    transposed orientation."""

    def __init__(self, c1):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c1))

    def forward(self, x):
        xt = x.transpose(1, 2)  # (B, C2, C1)
        v = self.weight.view(1, -1, 1).expand(x.size(0), -1, 1)
        u = F.normalize(xt.bmm(v), dim=1)
        v = F.normalize(xt.transpose(1, 2).bmm(u), dim=1)
        s = u.transpose(1, 2).bmm(xt).bmm(v)
        rank1 = u.bmm(v.transpose(1, 2))
        y = s.pow(0.5) * rank1 + (xt - s * rank1) / (s.pow(0.5) + 1e-5)
        return y.transpose(1, 2).reshape(x.size(0), -1)


class Classifier(nn.Module):

    def __init__(self, dim, dr, num_classes):
        super().__init__()
        self.representation = Covariance(dim, dr)
        self.normalization = SvPN(dr[0])
        self.visual_fc = nn.Linear(dr[0] * dr[1], num_classes)
        self.cls_fc = nn.Linear(dim, num_classes)

    def forward(self, x):
        tokens = x[:, 1:].transpose(1, 2).unsqueeze(-1)
        vis = self.normalization(self.representation(tokens))
        return self.visual_fc(vis) + self.cls_fc(x[:, 0])


class AuthorsSoViT(nn.Module):

    def __init__(self, dim, depth, heads, mlp_ratio, dr, num_classes,
                 img_size, scale):
        super().__init__()
        self.visual_tokens = VisualTokens(dim)
        self.blocks = nn.ModuleList(
            [ViTBlock(dim, heads, mlp_ratio, scale) for _ in range(depth)])
        self.classifier = Classifier(dim, dr, num_classes)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim))
        # a random table: the converter must copy it, not regenerate it
        self.pos_embed = nn.Parameter(
            torch.randn(1, (img_size // 16)**2 + 1, dim),
            requires_grad=False)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        x = self.visual_tokens.tokens(x)
        x = torch.cat([self.cls_token.expand(x.size(0), -1, -1), x], 1)
        x = x + self.pos_embed
        for blk in self.blocks:
            x = blk(x)
        return self.classifier(self.norm(x))


def randomize(model):
    """Random affine/BN statistics so that every value matters."""
    torch.manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm2d, nn.LayerNorm)):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
            if isinstance(m, Attention):
                m.qkv.weight.mul_(4)  # peaked attention: the scale matters
    return model.eval()


SMALL = dict(dim=32, depth=2, heads=2, mlp_ratio=2., dr=(6, 4),
             num_classes=10, img_size=64)


def mmext_classifier(qk_scale=None):
    return PRETRAIN_MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(
                type='SoViT',
                arch=dict(embed_dims=32, num_layers=2, num_heads=2,
                          mlp_ratio=2.),
                img_size=64,
                qk_scale=qk_scale),
            head=dict(
                type='SoViTHead', num_classes=10, in_channels=32,
                reduced_channels=(6, 4)))).eval()


@pytest.mark.parametrize('scale_of', ['head', 'embed'])
def test_converted_model_reproduces_authors(tmp_path, scale_of):
    """Default scale = the authors' training/evaluation (head_dims ** -0.5);
    ``qk_scale=embed_dims ** -0.5`` = their ``pretrained=True`` factories."""
    scale = 16**-0.5 if scale_of == 'head' else 32**-0.5
    authors = randomize(AuthorsSoViT(**SMALL, scale=scale))
    src = tmp_path / 'So-ViT-small.pth.tar'
    torch.save({'state_dict': {'module.' + k: v for k, v in
                               authors.state_dict().items()}}, str(src))
    meta = so_vit2mmext.convert(str(src), str(tmp_path / 'out.pth'))
    assert meta['backbone']['arch'] == dict(embed_dims=32, num_layers=2)
    assert meta['backbone']['img_size'] == 64
    assert meta['head']['reduced_channels'] == (6, 4)
    assert meta['head']['num_classes'] == 10
    ckpt = torch.load(str(tmp_path / 'out.pth'), map_location='cpu')

    model = mmext_classifier(None if scale_of == 'head' else 32**-0.5)
    model.load_state_dict(ckpt['state_dict'], strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = authors(x)
        torch.testing.assert_close(
            model(x, mode='tensor'), expected, rtol=1e-4, atol=1e-4)
        # the other scale gives other logits: the option is needed
        other = mmext_classifier(32**-0.5 if scale_of == 'head' else None)
        other.load_state_dict(ckpt['state_dict'], strict=True)
        assert (other(x, mode='tensor') - expected).abs().max() > 1e-2


@pytest.mark.parametrize('arch,dim,depth,heads,ratio,dr', [
    ('7', 256, 7, 4, 2., (48, 24)),
    ('14', 384, 14, 6, 3., (64, 48)),
])
def test_full_size_keys_land(tmp_path, arch, dim, depth, heads, ratio, dr):
    """Every key and value of a full-size authors' state dict lands in the
    model built from configs/so_vit/ (strict load, values equal)."""
    authors = AuthorsSoViT(dim, depth, heads, ratio, dr, 1000, 224, scale=1.)
    sd = authors.state_dict()
    src = tmp_path / f'So-ViT-{arch}.pth.tar'
    torch.save({'epoch': 299, 'arch': f'So_vit_{arch}', 'state_dict': sd},
               str(src))
    meta = so_vit2mmext.convert(str(src), str(tmp_path / 'out.pth'))
    assert meta['backbone']['arch'] == arch
    assert meta['backbone']['img_size'] == 224
    assert meta['epoch'] == 299 and meta['arch'] == f'So_vit_{arch}'
    converted = torch.load(str(tmp_path / 'out.pth'))['state_dict']
    cfg = Config.fromfile(
        osp.join(CONFIGS, f'so_vit_{arch}_8xb64_300e_in1k.py'))
    model = PRETRAIN_MODELS.build(cfg.model)
    model.load_state_dict(converted, strict=True)
    assert len(converted) == len(sd)
    mm = model.state_dict()
    # hand-written samples of the mapping, one per kind of key
    for src_key, dst_key in [
        ('visual_tokens.tokens.stem.0.bias', 'backbone.tokens.conv.bias'),
        ('visual_tokens.tokens.stage.2.downsample.1.running_var',
         'backbone.tokens.blocks.2.downsample.1.running_var'),
        ('visual_tokens.tokens.transition.weight',
         'backbone.tokens.transition.weight'),
        (f'blocks.{depth - 1}.norm1.weight',
         f'backbone.layers.{depth - 1}.ln1.weight'),
        ('blocks.0.mlp.fc1.weight', 'backbone.layers.0.ffn.layers.0.0.weight'),
        ('blocks.0.mlp.fc2.bias', 'backbone.layers.0.ffn.layers.1.bias'),
        ('norm.bias', 'backbone.ln1.bias'),
        ('pos_embed', 'backbone.pos_embed'),
        ('classifier.representation.conv_dr_block.1.1.running_mean',
         'head.branch2.bn.running_mean'),
        ('classifier.normalization.weight', 'head.sv_vector'),
        ('classifier.visual_fc.weight', 'head.fc_vis.weight'),
        ('classifier.cls_fc.bias', 'head.fc_cls.bias'),
    ]:
        assert torch.equal(mm[dst_key], sd[src_key]), src_key


def test_cli_ema_and_errors(tmp_path, monkeypatch, capsys):
    authors = randomize(AuthorsSoViT(**SMALL, scale=16**-0.5))
    raw = authors.state_dict()
    ema = {k: v + 1 if v.is_floating_point() else v for k, v in raw.items()}
    src = tmp_path / 'timm.pth.tar'
    # timm's CheckpointSaver also pickles its argparse namespace
    torch.save({'epoch': 3, 'args': argparse.Namespace(model='So_vit_7'),
                'state_dict': raw, 'state_dict_ema': ema}, str(src))
    dst = str(tmp_path / 'out.pth')
    assert so_vit2mmext.main([str(src), dst]) == 1
    assert 'MMEXT_TRUST_CHECKPOINTS' in capsys.readouterr().err

    monkeypatch.setenv('MMEXT_TRUST_CHECKPOINTS', '1')
    assert so_vit2mmext.main([str(src), dst]) == 0
    out = torch.load(dst)['state_dict']
    assert torch.equal(out['head.sv_vector'],
                       ema['classifier.normalization.weight'])
    assert so_vit2mmext.main([str(src), dst, '--no-ema']) == 0
    out = torch.load(dst)['state_dict']
    assert torch.equal(out['head.sv_vector'],
                       raw['classifier.normalization.weight'])

    bad = tmp_path / 'bad.pth'
    torch.save({'state_dict': {**raw, 'head.weight': torch.zeros(1)}},
               str(bad))
    assert so_vit2mmext.main([str(bad), dst]) == 1
    err = capsys.readouterr().err
    assert 'bad.pth' in err and "'head.weight'" in err
    assert so_vit2mmext.main([str(tmp_path / 'missing.pth'), dst]) == 1
    assert 'does not exist' in capsys.readouterr().err
