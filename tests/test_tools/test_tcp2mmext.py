"""tools/model_converters/tcp2mmext.py on state dicts built here in the TCP
authors' layouts (torchvision ResNet-50 under ``module.base_model.``, their
``TCP`` module, ``new_fc``; the older ``iSQRT`` key style; their ImageNet
GCP files). The converted head is compared with a re-creation of the
authors' forward (``ops/TCP/*.py``, ``ops/MPNCOV/MPNCOV.py``: shifts by
concatenation, the M x M centring matrix, Newton-Schulz with the trace plus
1e-5), the converted backbone with torchvision's."""
import importlib.util
import os.path as osp

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmaction.registry import MODELS as ACTION_MODELS
from mmengine.config import Config
from mmengine.registry import DefaultScope
from torchvision.models import resnet50

import mmext  # noqa: F401
from mmext.models.heads.tcp_head import convert_tcp_checkpoint

ROOT = osp.join(osp.dirname(__file__), '..', '..')
SCRIPT = osp.join(ROOT, 'tools', 'model_converters', 'tcp2mmext.py')
R50_8F = osp.join(ROOT, 'configs', 'tcp',
                  'tcp_tsn-r50_4xb24-1x1x8-50e_kinetics400-rgb.py')


def load_script():
    spec = importlib.util.spec_from_file_location('tcp2mmext', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tcp2mmext = load_script()


@pytest.fixture(autouse=True)
def mmaction_scope():
    with DefaultScope.overwrite_default_scope('mmaction'):
        yield


# --------------------------------------------- the authors' layout, redone
class AuthorsTSA(nn.Module):

    def __init__(self, dim, frame):
        super().__init__()
        self.frame = frame
        self.conv_phi_1 = nn.Conv2d(dim, dim, 1)
        self.conv_phi_2 = nn.Conv2d(dim, dim, 1)
        self.conv_phi0 = nn.Conv2d(dim, dim, 1)
        self.norm = nn.BatchNorm2d(dim)

    def forward(self, x):
        n, c, h, w = x.shape
        x5 = x.view(n // self.frame, self.frame, c, h, w)
        x_1 = torch.cat((x5[:, :1], x5[:, :-1]), 1)
        x_2 = torch.cat((x_1[:, :1], x_1[:, :-1]), 1)
        p1 = self.conv_phi_1(x_1.reshape(n, c, h, w)).view(n, c, -1)
        p2 = self.conv_phi_2(x_2.reshape(n, c, h, w)).view(n, c, -1)
        p0 = self.conv_phi0(x).view(n, c, -1)
        theta = torch.einsum('nca,ncb->nab', p1, p2) * c**-0.5
        theta = theta.softmax(dim=2)
        out = torch.einsum('ntg,ncg->nct', theta, p0).view(n, c, h, w)
        return x + self.norm(out)


class AuthorsTCA(nn.Module):

    def __init__(self, dim, frame):
        super().__init__()
        self.frame = frame
        self.g1 = nn.Conv2d(dim, dim * 4, 1)
        self.g2 = nn.Conv2d(dim * 4, dim, 1)

    def diff(self, x):
        return torch.sigmoid(self.g2(torch.relu(self.g1(x))))

    def forward(self, x, x_att):
        x = F.adaptive_avg_pool2d(x, 1)
        n, c = x.shape[:2]
        xt = x.view(n // self.frame, self.frame, c, 1, 1)
        xt1 = torch.cat((xt[:, -1:], xt[:, :-1]), 1)
        xt2 = torch.cat((xt[:, -2:], xt[:, :-2]), 1)
        d1 = (xt - xt1).view(n, c, 1, 1)
        d2 = ((xt - xt2) * 0.5).view(n, c, 1, 1)
        return x_att * (self.diff(d1) + self.diff(d2)) * 0.5


class AuthorsAtt(nn.Module):

    def __init__(self, dim, frame):
        super().__init__()
        self.frame = frame
        k = frame // 2 + 1
        self.TCA = AuthorsTCA(dim, frame)
        # the padding their version check should pick (torch >= 1.5)
        self.conv_1d = nn.Conv3d(dim, dim, (k, 1, 1),
                                 padding=((k - 1) // 2, 0, 0),
                                 padding_mode='circular')
        self.TSA = AuthorsTSA(dim, frame)

    def forward(self, x):
        x_att = self.TCA(x, self.TSA(x))
        n, c, h, w = x_att.shape
        v = n // self.frame
        x_att = x_att.reshape(v, self.frame, c, h, w).permute(0, 2, 1, 3, 4)
        x_att = self.conv_1d(x_att).permute(0, 2, 1, 3, 4).reshape(n, c, h, w)
        return torch.relu(x_att + x)


class AuthorsTCP(nn.Module):

    def __init__(self, frame=8):
        super().__init__()
        self.frame = frame
        self.layer_reduce1 = nn.Conv2d(2048, 256, 1, bias=False)
        self.layer_reduce_bn1 = nn.BatchNorm2d(256)
        self.layer_reduce2 = nn.Conv2d(256, 128, 1, bias=False)
        self.layer_reduce_bn2 = nn.BatchNorm2d(128)
        self.TCP_att = AuthorsAtt(128, frame)

    def forward(self, x):
        x = torch.relu(self.layer_reduce_bn1(self.layer_reduce1(x)))
        x = torch.relu(self.layer_reduce_bn2(self.layer_reduce2(x)))
        x = self.TCP_att(x)
        x = x.view((-1, self.frame) + x.shape[1:])
        bs, fr, dim, h, w = x.shape
        x = x.permute(0, 2, 1, 3, 4).reshape(bs, dim, fr * h * w)
        m = x.size(2)
        i_hat = -torch.ones(m, m) / (m * m) + torch.eye(m) / m
        a = x @ i_hat @ x.transpose(1, 2)
        norm = a.diagonal(dim1=1, dim2=2).sum(-1).view(bs, 1, 1)
        a = a / (norm + 1e-5)
        i3 = 3 * torch.eye(dim)
        zy = 0.5 * (i3 - a)
        y, z = a @ zy, zy
        zy = 0.5 * (i3 - z @ y)
        y, z = y @ zy, zy @ z
        y = 0.5 * y @ (i3 - z @ y) * norm.sqrt()
        return y.flatten(1)[:, torch.ones(dim, dim).triu().flatten().bool()]


def _randomize(module: nn.Module) -> None:
    gen = torch.Generator().manual_seed(0)
    for name, t in module.state_dict().items():
        if t.is_floating_point():
            if name.endswith('running_var'):
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
            elif 'conv_1d' in name or 'norm' in name:
                t.copy_(torch.randn(t.shape, generator=gen) * 0.05)
            elif name.endswith(('running_mean', 'bias')):
                t.copy_(torch.randn(t.shape, generator=gen) * 0.1)


def authors_tcp_state_dict(frame=8, num_classes=400, prefix='module.'):
    """A trained TCP-TSN-R50 checkpoint's state dict, newer key style."""
    backbone = resnet50()
    tcp = AuthorsTCP(frame)
    _randomize(backbone)
    _randomize(tcp)
    new_fc = nn.Linear(8256, num_classes)
    sd = {f'{prefix}base_model.{k}': v
          for k, v in backbone.state_dict().items()
          if not k.startswith('fc.')}
    sd.update({f'{prefix}base_model.TCP.{k}': v
               for k, v in tcp.state_dict().items()})
    sd.update({f'{prefix}new_fc.{k}': v
               for k, v in new_fc.state_dict().items()})
    return sd, backbone, tcp, new_fc


def to_old_style(sd):
    """The inverse of the authors' keys_mapping_old_resnet."""
    rules = [('TCP.TCP_att.TCA.g1', 'layer4.iSQRT.att_module.conv_1'),
             ('TCP.TCP_att.TCA.g2', 'layer4.iSQRT.att_module.conv_2'),
             ('TCP.TCP_att.TSA.conv_phi_1',
              'layer4.iSQRT.att_module.sp_att.conv_theta'),
             ('TCP.TCP_att.TSA.conv_phi_2',
              'layer4.iSQRT.att_module.sp_att.conv_phi'),
             ('TCP.TCP_att.TSA.conv_phi0',
              'layer4.iSQRT.att_module.sp_att.conv_g'),
             ('TCP.TCP_att.TSA', 'layer4.iSQRT.att_module.sp_att'),
             ('TCP.TCP_att', 'layer4.iSQRT.att_module'),
             ('TCP.', 'layer4.iSQRT.')]
    out = {}
    for k, v in sd.items():
        for old, new in rules:
            if old in k:
                k = k.replace(old, new)
                break
        out[k] = v
    return out


def _build(cfg_path, **head):
    cfg = Config.fromfile(cfg_path).model
    cfg.backbone.init_cfg = None
    cfg.cls_head.init_cfg = None
    cfg.cls_head.update(head)
    return ACTION_MODELS.build(cfg)


def test_trained_tcp_matches_authors_forward(tmp_path):
    sd, backbone, tcp, new_fc = authors_tcp_state_dict()
    out, info = convert_tcp_checkpoint(sd)
    assert info == dict(backbone='resnet50', tsm=False, kind='tcp',
                        num_classes=400, num_segments=8, dropped=[])
    model = _build(R50_8F).eval()
    model.load_state_dict(out, strict=True)
    tcp.eval()
    feats = torch.randn(2 * 8, 2048, 3, 3).relu()
    ours = feats.clone().requires_grad_()
    theirs = feats.clone().requires_grad_()
    expected = new_fc(tcp(theirs))
    got = model.cls_head(ours, num_segs=8)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    # gradients: mmext's hand-written backward against autograd through
    # the authors' formulas
    weight = torch.randn_like(got)
    (got * weight).sum().backward()
    (expected * weight).sum().backward()
    torch.testing.assert_close(ours.grad, theirs.grad, rtol=1e-3, atol=1e-6)

    # the backbone: mmaction2's ResNet-50 (layer4 at stride 2 here, as
    # torchvision's) with the converted weights computes torchvision's map
    ref = ACTION_MODELS.build(dict(type='ResNet', depth=50,
                                   pretrained=None))
    ref.eval()  # mmaction2's ResNet.train() returns None
    ref.load_state_dict({
        k[len('backbone.'):]: v
        for k, v in out.items() if k.startswith('backbone.')
    })
    backbone.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        tv = nn.Sequential(*list(backbone.children())[:-2])(x)
        torch.testing.assert_close(ref(x), tv, rtol=1e-4, atol=1e-4)


def test_old_key_style_and_prefix():
    sd = authors_tcp_state_dict(frame=16, num_classes=200)[0]
    new, info = convert_tcp_checkpoint(sd)
    assert (info['num_segments'], info['num_classes']) == (16, 200)
    old = to_old_style(sd)
    assert any('layer4.iSQRT.att_module.sp_att.conv_theta' in k for k in old)
    converted, _ = convert_tcp_checkpoint(old)
    assert converted.keys() == new.keys()
    assert all(converted[k] is new[k] for k in new)
    bare = {k[len('module.'):]: v for k, v in sd.items()}
    assert convert_tcp_checkpoint(bare)[0].keys() == new.keys()


def _gcp_r50_state_dict(sequential=False):
    """The authors' ImageNet GCP ResNet-50: backbone, reduction, fc."""
    sd = {f'module.{k}': v for k, v in resnet50().state_dict().items()
          if not k.startswith('fc.')}
    tcp = AuthorsTCP()
    for i in (1, 2):
        conv = tcp.state_dict()[f'layer_reduce{i}.weight']
        bn = {k.split('.', 1)[1]: v for k, v in tcp.state_dict().items()
              if k.startswith(f'layer_reduce_bn{i}.')}
        if sequential:  # their R152 / TEA files
            sd[f'module.iSQRT.layer_reduce{i}.0.weight'] = conv
            sd.update({f'module.iSQRT.layer_reduce{i}.1.{k}': v
                       for k, v in bn.items()})
        else:
            sd[f'module.layer_reduce{i}.weight'] = conv
            sd.update({f'module.layer_reduce_bn{i}.{k}': v
                       for k, v in bn.items()})
    sd['module.fc.weight'] = torch.randn(1000, 8256)
    sd['module.fc.bias'] = torch.randn(1000)
    return sd


def test_gcp_checkpoint_initialises_the_config(tmp_path):
    """An ImageNet GCP file converted by the script is what the config's
    init_cfg loads: backbone and reduction, the rest left at init."""
    src = tmp_path / 'ImgeNet1K_GCP_R50.pth.tar'
    sd = _gcp_r50_state_dict()
    torch.save({'epoch': 65, 'state_dict': sd}, src)
    dst = tmp_path / 'gcp.pth'
    assert tcp2mmext.main([str(src), str(dst)]) == 0
    meta = torch.load(dst, weights_only=False)['meta']
    assert (meta['kind'], meta['dropped']) == (
        'gcp', ['module.fc.weight', 'module.fc.bias'])
    assert meta['config'].endswith('1x1x8-50e_kinetics400-rgb.py')
    cfg = Config.fromfile(R50_8F).model
    cfg.backbone.init_cfg.checkpoint = str(dst)
    cfg.cls_head.init_cfg.checkpoint = str(dst)
    model = ACTION_MODELS.build(cfg)
    model.init_weights()
    torch.testing.assert_close(model.cls_head.reduce2.bn.running_var,
                               sd['module.layer_reduce_bn2.running_var'])
    torch.testing.assert_close(model.backbone.layer4[2].conv3.bn.weight,
                               sd['module.layer4.2.bn3.weight'])
    assert not model.cls_head.attention.temporal_conv.weight.any()

    # the same file for TSM: the shifted convs under `.net`
    out, info = convert_tcp_checkpoint(sd, tsm=True)
    assert info['tsm'] and 'backbone.layer1.0.conv1.conv.net.weight' in out
    tsm = _build(osp.join(ROOT, 'configs', 'tcp',
                          'tcp_tsm-r50_4xb24-1x1x8-50e_kinetics400-rgb.py'))
    missing, unexpected = tsm.load_state_dict(out, strict=False)
    assert not unexpected
    assert all(k.startswith(('cls_head.attention', 'cls_head.fc_cls'))
               for k in missing)


def test_preact_r152_gcp_sequential_reduction():
    """R152 GCP files: MXNet pre-activation names (as the authors'
    preact_resnet.py) and `iSQRT.layer_reduceN.{0,1}` reductions."""
    sd = {'module.bn_data.weight': torch.ones(3)}
    names = ['conv1.weight', 'bn1.weight', 'bn2.weight']
    for i, blocks in enumerate((3, 8, 36, 3), 1):
        for j in range(blocks):
            names += [f'layer{i}.{j}.{n}.weight' for n in
                      ('bn1', 'conv1', 'bn2', 'conv2', 'bn3', 'conv3')]
        names.append(f'layer{i}.0.downsample.0.weight')
    sd.update({f'module.{n}': torch.zeros(1) for n in names})
    gcp = _gcp_r50_state_dict(sequential=True)
    sd.update({k: v for k, v in gcp.items() if 'reduce' in k})
    out, info = convert_tcp_checkpoint(sd)
    assert (info['backbone'], info['kind']) == ('preact-resnet152', 'gcp')
    assert 'cls_head.reduce1.bn.running_mean' in out
    assert 'cls_head.reduce2.conv.weight' in out
    model = ACTION_MODELS.build(
        dict(type='mmpretrain.PreActResNet', depth=152))
    ours = {k for k in model.state_dict() if not k.endswith(
        ('bias', 'running_mean', 'running_var', 'num_batches_tracked'))}
    assert ours == {k[len('backbone.'):]
                    for k in out if k.startswith('backbone.')}


def test_cli_errors(tmp_path, capsys):
    sd = authors_tcp_state_dict()[0]
    sd['module.base_model.TCP.extra.weight'] = torch.zeros(1)
    src = tmp_path / 'bad.pth.tar'
    torch.save({'state_dict': sd}, src)
    assert tcp2mmext.main([str(src), str(tmp_path / 'out.pth')]) == 1
    err = capsys.readouterr().err
    assert err.startswith('error: ') and 'TCP.extra.weight' in err
    sd.pop('module.base_model.TCP.extra.weight')
    sd['module.base_model.layer1.0.convs.0.weight'] = torch.zeros(1)
    torch.save({'state_dict': sd}, src)
    assert tcp2mmext.main([str(src), str(tmp_path / 'out.pth')]) == 1
    assert 'TEA' in capsys.readouterr().err
    sd.pop('module.base_model.layer1.0.convs.0.weight')
    sd.pop('module.new_fc.bias')
    torch.save({'state_dict': sd}, src)
    assert tcp2mmext.main([str(src), str(tmp_path / 'out.pth')]) == 1
    assert "lacks 'cls_head.fc_cls.bias'" in capsys.readouterr().err
