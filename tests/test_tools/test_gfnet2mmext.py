"""tools/model_converters/gfnet2mmext.py on checkpoints in the GFNet
authors' layout: encoders from torchvision (ResNet, DenseNet), timm
(MobileNetV3, EfficientNet: gen-efficientnet's architecture and names) and
pycls (RegNetY: timm's model under pycls' names) behind ``module.``, the
classifier and policy under their names, and the release's calibration;
the converted encoders give the source models' logits."""
import copy
import importlib.util
import os.path as osp
import re
from typing import Callable, Dict, Optional

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


def _linear_head_encoder(backbone: dict, channels: int) -> dict:
    return dict(
        type='mmpretrain.ImageClassifier',
        backbone=backbone,
        neck=dict(type='mmpretrain.GlobalAveragePooling'),
        head=dict(type='mmpretrain.LinearClsHead', num_classes=5,
                  in_channels=channels))


def _resnet18_case(tmp_path):
    torchvision = pytest.importorskip('torchvision')
    torch.manual_seed(0)
    prime = _randomize_bn(torchvision.models.resnet18(num_classes=5))
    local = _randomize_bn(torchvision.models.resnet18(num_classes=5))
    fc = nn.Module()  # network.py's Full_layer (GRU)
    fc.rnn = nn.GRU(512, 16)
    fc.fc = nn.Linear(16, 5)
    encoder = _linear_head_encoder(
        dict(type='mmpretrain.ResNet', depth=18), 512)
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


def _randomize_bn(model: nn.Module) -> nn.Module:
    """Random affine parameters and running statistics in every batch norm,
    so that eval-mode outputs depend on each of them."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.running_mean.normal_(0, 0.5)
            module.running_var.uniform_(0.5, 2)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.normal_(0, 0.5)
    return model.eval()


# gen-efficientnet's MobileNetV3-Large 1.00 and 1.25 (timm's builder at
# channel multiplier 1.25 has the authors' 7,551,976 parameters)
@pytest.mark.parametrize('widen, backbone, channels', [
    (1.0, dict(type='mmpretrain.MobileNetV3', arch='large',
               norm_cfg=dict(type='BN', eps=1e-5)), 960),
    (1.25, dict(type='GenMobileNetV3', widen_factor=1.25), 1200),
])
def test_mobilenetv3_release(tmp_path, widen: float, backbone: dict,
                             channels: int):
    mobilenetv3 = pytest.importorskip('timm.models.mobilenetv3')
    torch.manual_seed(0)
    prime, local = (_randomize_bn(
        mobilenetv3._gen_mobilenet_v3(
            'mobilenetv3_large_100', widen, num_classes=5))
                    for _ in range(2))
    if widen == 1.25:
        with torch.device('meta'):
            authors = mobilenetv3._gen_mobilenet_v3('mobilenetv3_large_100',
                                                    widen)
        assert sum(p.numel() for p in authors.parameters()) == 7_551_976
    fc = nn.Module()  # network.py's Full_layer (cascade)
    for k in range(2, 6):
        fc.add_module(f'fc_{k}', nn.Linear(k * 1280, 5))
    encoder = dict(
        type='mmpretrain.ImageClassifier',
        backbone=backbone,
        neck=dict(type='mmpretrain.GlobalAveragePooling'),
        head=dict(type='mmpretrain.StackedLinearClsHead', num_classes=5,
                  in_channels=channels, mid_channels=[1280],
                  act_cfg=dict(type='HSwish')))
    config = _config(tmp_path, encoder,
                     dict(type='GFNetHead', in_channels=1280, num_classes=5,
                          mode='cascade'), channels, glance_logits='encoder')
    src = str(tmp_path / 'gfnet_mbv3.pth.tar')
    torch.save(_release(prime, local, fc, channels), src)
    dst = str(tmp_path / 'out.pth')
    assert gfnet2mmext.main([src, dst, '--config', config]) == 0
    model = gfnet2mmext.build_model(config).double().eval()
    load_checkpoint(model, dst, map_location='cpu', strict=True)
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        for encoder, theirs in ((model.global_encoder, prime),
                                (model.local_encoder, local)):
            assert torch.allclose(
                _own_logits(encoder, x), theirs.double()(x), atol=1e-10)


#: timm's RegNet tensors -> pycls' (the authors' ``pycls/models/anynet.py``:
#: ``ResBottleneckBlock`` registers the shortcut ``proj``, ``bn`` before the
#: bottleneck ``f`` = ``a, a_bn, b, b_bn, se.f_ex.{0,2}, c, c_bn``), in
#: pycls' order; ``SimpleStemIN`` is ``stem.{conv,bn}`` in both, and
#: ``AnyNet``'s classifier is ``fc``
_TIMM_TO_PYCLS = (('downsample.conv.', 'proj.'), ('downsample.bn.', 'bn.'),
                  ('conv1.conv.', 'f.a.'), ('conv1.bn.', 'f.a_bn.'),
                  ('conv2.conv.', 'f.b.'), ('conv2.bn.', 'f.b_bn.'),
                  ('se.fc1.', 'f.se.f_ex.0.'), ('se.fc2.', 'f.se.f_ex.2.'),
                  ('conv3.conv.', 'f.c.'), ('conv3.bn.', 'f.c_bn.'))


def _pycls_state_dict(model: nn.Module) -> Dict[str, torch.Tensor]:
    """A timm RegNetY's tensors as pycls' ``RegNet`` names and orders
    them."""
    theirs = model.state_dict()
    out = {k: v for k, v in theirs.items() if k.startswith('stem.')}
    blocks = dict.fromkeys(
        m[0] for m in map(re.compile(r's\d+\.b\d+\.').match, theirs) if m)
    for block in blocks:
        for timm_name, pycls_name in _TIMM_TO_PYCLS:
            prefix = block + timm_name
            out.update({
                block + pycls_name + k[len(prefix):]: v
                for k, v in theirs.items() if k.startswith(prefix)
            })
    out.update({
        k[len('head.'):]: v
        for k, v in theirs.items() if k.startswith('head.fc.')
    })
    assert len(out) == len(theirs)
    return out


def _timm(name: str) -> Callable[[], nn.Module]:
    return lambda: pytest.importorskip('timm').create_model(
        name, num_classes=5)


def _torchvision(name: str) -> Callable[[], nn.Module]:
    return lambda: getattr(pytest.importorskip('torchvision').models,
                           name)(num_classes=5)


#: the converted config of gen-efficientnet's EfficientNets: PyTorch
#: padding and BN eps (mmpretrain's defaults are TF's)
_GEN_EFFICIENTNET = dict(
    type='mmpretrain.EfficientNet', conv_cfg=dict(type='Conv2d'),
    norm_cfg=dict(type='BN', eps=1e-5))


# the authors' encoder (an independent implementation with random weights),
# its release layout, the mmext backbone and width, the classifier (GRU or
# cascade), and whether the logits are compared (the smallest variants)
@pytest.mark.parametrize(
    'source, layout, backbone, channels, cascade, forward', [
        (_torchvision('densenet121'), None,
         dict(type='mmpretrain.DenseNet', arch='121'), 1024, False, True),
        (_torchvision('densenet169'), None,
         dict(type='mmpretrain.DenseNet', arch='169'), 1664, False, False),
        (_timm('regnety_006'), _pycls_state_dict,
         dict(type='RegNetY', arch='regnety_600mf'), 608, False, True),
        (_timm('regnety_008'), _pycls_state_dict,
         dict(type='RegNetY', arch='regnety_800mf'), 768, False, False),
        (_timm('regnety_016'), _pycls_state_dict,
         dict(type='RegNetY', arch='regnety_1.6gf'), 888, False, False),
        (_timm('efficientnet_b2'), None, dict(_GEN_EFFICIENTNET, arch='b2'),
         1408, True, True),
        (_timm('efficientnet_b3'), None, dict(_GEN_EFFICIENTNET, arch='b3'),
         1536, True, False),
    ],
    ids=['densenet121', 'densenet169', 'regnety_006', 'regnety_008',
         'regnety_016', 'efficientnet_b2', 'efficientnet_b3'])
def test_release_matches_the_authors_encoder(
        tmp_path, source: Callable[[], nn.Module],
        layout: Optional[Callable], backbone: dict, channels: int,
        cascade: bool, forward: bool):
    torch.manual_seed(0)
    # the local encoder: a copy with other batch-norm statistics and
    # affine parameters (cheaper than a second initialisation)
    prime = _randomize_bn(source())
    local = _randomize_bn(copy.deepcopy(prime))
    layout = layout or (lambda model: model.state_dict())
    fc = nn.Module()  # network.py's Full_layer
    if cascade:
        for k in range(2, 6):
            fc.add_module(f'fc_{k}', nn.Linear(k * channels, 5))
        classifier = dict(type='GFNetHead', in_channels=channels,
                          num_classes=5, mode='cascade')
    else:
        fc.rnn = nn.GRU(channels, 16)
        fc.fc = nn.Linear(16, 5)
        classifier = dict(type='GFNetHead', in_channels=channels,
                          num_classes=5, hidden_dim=16)
    config = _config(tmp_path, _linear_head_encoder(backbone, channels),
                     classifier, channels,
                     glance_logits='encoder' if cascade else 'classifier')
    src = str(tmp_path / 'gfnet.pth.tar')
    release = _release(prime, local, fc, channels)
    release['model_prime_state_dict'] = {
        f'module.{k}': v for k, v in layout(prime).items()}
    release['model_state_dict'] = {
        f'module.{k}': v for k, v in layout(local).items()}
    torch.save(release, src)
    dst = str(tmp_path / 'out.pth')
    assert gfnet2mmext.main([src, dst, '--config', config]) == 0
    model = gfnet2mmext.build_model(config)
    load_checkpoint(model, dst, map_location='cpu', strict=True)
    if not forward:
        return
    model.double().eval()
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        for encoder, theirs in ((model.global_encoder, prime),
                                (model.local_encoder, local)):
            assert torch.allclose(
                _own_logits(encoder, x), theirs.double()(x), atol=1e-10)


@pytest.mark.parametrize('name, params', [
    ('regnety_006', 6_055_160), ('regnety_008', 6_263_168),
    ('regnety_016', 11_202_430), ('efficientnet_b2', 9_109_994),
    ('efficientnet_b3', 12_233_232)])
def test_timm_encoders_are_the_authors(name, params):
    """The timm models standing in for the authors' pycls RegNetY and
    gen-efficientnet EfficientNet have the authors' encoders' parameter
    counts (1000 classes; research notes, Sec. 1.7)."""
    timm = pytest.importorskip('timm')
    with torch.device('meta'):
        model = timm.create_model(name)
    assert sum(p.numel() for p in model.parameters()) == params


@pytest.mark.parametrize('change, message', [
    (lambda sd: sd.update({'module.avgpool.weight': torch.ones(1)}),
     "no mmext counterpart for the key 'avgpool.weight' "
     '(model_prime_state_dict, torchvision ResNet)'),
    (lambda sd: sd.pop('module.layer4.1.bn2.running_var'),
     "model_prime_state_dict (torchvision ResNet) checkpoint lacks "
     "'backbone.layer4.1.bn2.running_var'"),
    (lambda sd: sd.update({'module.layer4.2.conv1.weight': torch.ones(1)}),
     "model_prime_state_dict: 'layer4.2.conv1.weight' (torchvision ResNet) "
     "would be 'backbone.layer4.2.conv1.weight', which the ResNet encoder "
     'of the config lacks'),
    (lambda sd: sd.update({'module.fc.bias': torch.ones(7)}),
     "model_prime_state_dict: 'fc.bias' (7,) does not fit 'head.fc.bias' "
     '(5,)'),
    (lambda sd: sd.pop('module.layer1.0.conv1.weight'),
     'model_prime_state_dict: not one of the encoders of the authors'),
], ids=['unmatched', 'left-over', 'not-in-model', 'shape', 'layout'])
def test_unmatched_keys_are_named(tmp_path, capsys, change, message):
    prime, local, fc, config = _resnet18_case(tmp_path)
    release = _release(prime, local, fc, 512)
    change(release['model_prime_state_dict'])
    src = str(tmp_path / 'gfnet.pth.tar')
    torch.save(release, src)
    assert gfnet2mmext.main(
        [src, str(tmp_path / 'out.pth'), '--config', config]) == 1
    assert capsys.readouterr().err.startswith(f'error: {src}: {message}')


def test_encoder_needs_pytorch_conventions(tmp_path, capsys):
    """mmpretrain's EfficientNet defaults (TF padding, eps 1e-3) would give
    other outputs with the authors' weights: the converter stops and names
    the settings."""
    config = _config(
        tmp_path,
        _linear_head_encoder(
            dict(type='mmpretrain.EfficientNet', arch='b0'), 1280),
        dict(type='GFNetHead', in_channels=1280, num_classes=5,
             mode='cascade'), 1280, glance_logits='encoder')
    stem = {'module.conv_stem.weight': torch.zeros(32, 3, 3, 3)}
    src = str(tmp_path / 'gfnet.pth.tar')
    torch.save(dict(model_prime_state_dict=stem, model_state_dict=stem,
                    fc={}, policy={}), src)
    assert gfnet2mmext.main(
        [src, str(tmp_path / 'out.pth'), '--config', config]) == 1
    assert capsys.readouterr().err == (
        f"error: {src}: model_prime_state_dict: the authors' encoders use "
        "PyTorch's batch-norm eps 1e-5 and padding; the config's "
        "EfficientNet has batch-norm eps [0.001] and TF 'same' padding "
        "(Conv2dAdaptivePadding): set its backbone's norm_cfg=dict("
        "type='BN', eps=1e-5), conv_cfg=dict(type='Conv2d')\n")


def test_encoder_imagenet_weights_for_init_cfg(tmp_path, capsys):
    # pycls' ImageNet RegNetY (tensors under 'model_state') -> a checkpoint
    # that the encoders' Pretrained init_cfg loads: timm's logits
    torch.manual_seed(0)
    theirs = _randomize_bn(_timm('regnety_006')())
    src = str(tmp_path / 'RegNetY-600MF_dds_8gpu.pyth')
    torch.save(dict(epoch=100, model_state=_pycls_state_dict(theirs)), src)
    encoder = _linear_head_encoder(
        dict(type='RegNetY', arch='regnety_600mf'), 608)
    config = _config(tmp_path, encoder,
                     dict(type='GFNetHead', in_channels=608, num_classes=5,
                          hidden_dim=16), 608)
    dst = str(tmp_path / 'regnety-600mf_pycls-in1k.pth')
    assert gfnet2mmext.main([src, dst, '--encoder', '--config', config]) == 0
    from mmengine.registry import MODELS, init_default_scope
    init_default_scope('mmpretrain')
    ours = MODELS.build(
        dict(encoder, init_cfg=dict(type='Pretrained', checkpoint=dst)))
    ours.init_weights()
    ours.double().eval()
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(
            _own_logits(ours, x), theirs.double().eval()(x), atol=1e-10)
    # a GFNet release is not an encoder's weights
    torch.save(dict(model_state={'fc.weight': torch.zeros(5, 608)}), src)
    assert gfnet2mmext.main([src, dst, '--encoder', '--config', config]) == 1
    assert src in capsys.readouterr().err
