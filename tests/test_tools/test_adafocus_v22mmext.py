"""tools/model_converters/adafocus_v22mmext.py on a checkpoint in the
AdaFocusV2 authors' layout (main_v2.py: ``module.`` prefix, torchvision
backbones with their unused ImageNet heads, ``policy_stn``, ``classifier``
with ``mlp.layers`` and ``classifiers``): the converted backbones give the
torchvision networks' features, every other tensor lands under its mmext
name, and a checkpoint of another model is refused."""
import importlib.util
import os.path as osp

import torch
import torchvision
from mmengine.config import Config
from mmengine.runner import load_checkpoint

import mmext  # noqa: F401

SCRIPT = osp.join(
    osp.dirname(__file__), '..', '..', 'tools', 'model_converters',
    'adafocus_v22mmext.py')
spec = importlib.util.spec_from_file_location('adafocus_v22mmext', SCRIPT)
converter = importlib.util.module_from_spec(spec)
spec.loader.exec_module(converter)

CLASSES, FRAMES, HIDDEN, MLP = 5, 3, 8, 16


def _authors_checkpoint(mbv2, r18) -> dict:
    sd = {}
    for k, v in mbv2.state_dict().items():
        sd[f'global_CNN.{k}'] = v
    for k, v in r18.state_dict().items():
        sd[f'local_CNN.{k}'] = v
    torch.manual_seed(1)
    shapes = {
        'global_CNN_fc.1.weight': (CLASSES, 1280),
        'global_CNN_fc.1.bias': (CLASSES, ),
        'local_CNN_fc.1.weight': (CLASSES, 512),
        'local_CNN_fc.1.bias': (CLASSES, ),
        'policy_stn.encoder.0.weight': (64, 1280, 1, 1),
        'policy_stn.encoder.1.weight': (64, ),
        'policy_stn.encoder.1.bias': (64, ),
        'policy_stn.encoder.1.running_mean': (64, ),
        'policy_stn.encoder.1.running_var': (64, ),
        'policy_stn.encoder.1.num_batches_tracked': (),
        'policy_stn.encoder.4.weight': (HIDDEN, 64),
        'policy_stn.encoder.4.bias': (HIDDEN, ),
        'policy_stn.encoder.5.weight': (HIDDEN, ),
        'policy_stn.encoder.5.bias': (HIDDEN, ),
        'policy_stn.encoder.5.running_mean': (HIDDEN, ),
        'policy_stn.encoder.5.running_var': (HIDDEN, ),
        'policy_stn.encoder.5.num_batches_tracked': (),
        'policy_stn.gru.weight_ih_l0': (3 * HIDDEN, HIDDEN),
        'policy_stn.gru.weight_hh_l0': (3 * HIDDEN, HIDDEN),
        'policy_stn.gru.bias_ih_l0': (3 * HIDDEN, ),
        'policy_stn.gru.bias_hh_l0': (3 * HIDDEN, ),
        'policy_stn.fc.0.weight': (2, HIDDEN),
        'policy_stn.fc.0.bias': (2, ),
        'classifier.mlp.layers.0.weight': (MLP, 1280 + 512),
        'classifier.mlp.layers.0.bias': (MLP, ),
        'classifier.mlp.layers.1.weight': (MLP, ),
        'classifier.mlp.layers.1.bias': (MLP, ),
        'classifier.mlp.layers.1.running_mean': (MLP, ),
        'classifier.mlp.layers.1.running_var': (MLP, ),
        'classifier.mlp.layers.1.num_batches_tracked': (),
    }
    for t in range(FRAMES):
        shapes[f'classifier.classifiers.{t}.1.weight'] = (CLASSES, MLP)
        shapes[f'classifier.classifiers.{t}.1.bias'] = (CLASSES, )
    for k, shape in shapes.items():
        sd[k] = torch.randn(shape) if shape else torch.tensor(7)
    return {'state_dict': {f'module.{k}': v for k, v in sd.items()}}


def _config(tmp_path, num_classes=CLASSES) -> str:
    cfg = Config(
        dict(
            model=dict(
                type='AdaFocusV2',
                num_classes=num_classes,
                num_segments=FRAMES,
                patch_size=16,
                local_channels=512,
                global_backbone=dict(
                    type='mmaction.MobileNetV2', out_indices=(7, ),
                    widen_factor=0.25,
                    init_cfg=dict(type='Pretrained', checkpoint='x.pth')),
                local_backbone=dict(
                    type='mmaction.ResNet', depth=18, pretrained='x.pth'),
                policy=dict(type='AdaFocusV2Policy', state_size=1,
                            hidden_dim=HIDDEN),
                classifier=dict(type='AdaFocusV2Head', hidden_dim=MLP))))
    path = str(tmp_path / 'cfg.py')
    cfg.dump(path)
    return path


def test_convert_authors_layout(tmp_path):
    torch.manual_seed(0)
    mbv2 = torchvision.models.mobilenet_v2(width_mult=0.25).eval()
    r18 = torchvision.models.resnet18().eval()
    ckpt = _authors_checkpoint(mbv2, r18)
    src, dst = str(tmp_path / 'authors.pth'), str(tmp_path / 'mmext.pth')
    torch.save(ckpt, src)
    config = _config(tmp_path)
    assert converter.main([src, dst, '--config', config]) == 0

    model = converter.build_model(config).eval()
    load_checkpoint(model, dst, map_location='cpu', strict=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(
            model.global_backbone(x), mbv2.features(x))
        theirs = torch.flatten(r18.avgpool(r18.layer4(r18.layer3(r18.layer2(
            r18.layer1(r18.maxpool(r18.relu(r18.bn1(r18.conv1(x))))))))), 1)
        torch.testing.assert_close(
            model.local_backbone(x).mean((2, 3)), theirs)
    sd = {k[len('module.'):]: v for k, v in ckpt['state_dict'].items()}
    own = model.state_dict()
    for theirs_key, ours_key in (
            ('global_CNN_fc.1.weight', 'global_fc.1.weight'),
            ('local_CNN_fc.1.bias', 'local_fc.1.bias'),
            ('policy_stn.encoder.4.weight', 'policy.encoder.4.weight'),
            ('policy_stn.gru.weight_hh_l0', 'policy.gru.weight_hh_l0'),
            ('policy_stn.fc.0.bias', 'policy.fc.0.bias'),
            ('classifier.mlp.layers.0.weight', 'classifier.mlp.0.weight'),
            ('classifier.mlp.layers.1.running_var',
             'classifier.mlp.1.running_var'),
            ('classifier.classifiers.2.1.weight',
             'classifier.heads.2.1.weight')):
        assert torch.equal(own[ours_key], sd[theirs_key]), ours_key


def test_refuses_another_model(tmp_path, capsys):
    torch.manual_seed(0)
    ckpt = _authors_checkpoint(
        torchvision.models.mobilenet_v2(width_mult=0.25),
        torchvision.models.resnet18())
    src = str(tmp_path / 'authors.pth')
    torch.save(ckpt, src)
    config = _config(tmp_path, num_classes=7)
    assert converter.main([src, str(tmp_path / 'x.pth'), '--config',
                           config]) == 1
    assert "global_CNN_fc.1.weight" in capsys.readouterr().err
