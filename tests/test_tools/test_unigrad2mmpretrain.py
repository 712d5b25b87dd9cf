"""tools/model_converters/unigrad2mmpretrain.py against a re-creation of the
authors' SiameseNet checkpoint (fundamentalvision/UniGrad project/model.py:
torchvision ResNet-50 children as an nn.Sequential encoder, DDP prefix)."""
import copy
import importlib.util
import os.path as osp

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmpretrain.registry import MODELS as PRETRAIN_MODELS
from torchvision.models import resnet50

import mmext  # noqa: F401

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO, 'tools', 'model_converters', 'unigrad2mmpretrain.py')


def load_script():
    spec = importlib.util.spec_from_file_location('unigrad2mmpretrain',
                                                  SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def authors_model():
    torch.manual_seed(0)
    net = resnet50(zero_init_residual=True)
    encoder = nn.Sequential(*list(net.children())[:-1], nn.Flatten(1))
    # non-trivial BN statistics and last-BN weights
    for m in encoder.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data.uniform_(0.5, 1.5)
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)

    def mlp():
        return nn.Sequential(
            nn.Sequential(nn.Linear(2048, 2048, bias=False),
                          nn.BatchNorm1d(2048), nn.ReLU()),
            nn.Sequential(nn.Linear(2048, 2048, bias=False),
                          nn.BatchNorm1d(2048), nn.ReLU()),
            nn.Sequential(nn.Linear(2048, 2048)))

    model = nn.Module()
    model.encoder, model.projector = encoder, mlp()
    model.momentum_encoder = copy.deepcopy(encoder)
    model.momentum_projector = copy.deepcopy(model.projector)
    return model


def test_converted_backbone_matches_the_authors_encoder(tmp_path):
    model = authors_model()
    state = {f'module.{k}': v for k, v in model.state_dict().items()}
    assert len(state) == 664  # the authors' key count (research notes)
    src = str(tmp_path / 'unigrad_pretrained.pth')
    torch.save(
        dict(model=state, step=10, epoch=0, F=torch.eye(2048), optimizer={}),
        src)
    dst = str(tmp_path / 'converted.pth')
    assert load_script().main([src, dst]) == 0

    # the stock-style linear-eval classifier loads it
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', 'unigrad', 'benchmarks',
                 'resnet50_8xb512-linear-coslr-90e_in1k.py'))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.pop('init_cfg')
    classifier = PRETRAIN_MODELS.build(model_cfg).eval()
    load_checkpoint(classifier, dst, map_location='cpu', strict=False)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ref = model.encoder.eval()(x)
        got = classifier.neck(classifier.backbone(x))[0]
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-5)


def test_rejects_other_layouts(tmp_path, capsys):
    src = str(tmp_path / 'other.pth')
    torch.save({'model': {'module.head.weight': torch.zeros(2)}}, src)
    assert load_script().main([src, str(tmp_path / 'x.pth')]) == 1
    assert 'head.weight' in capsys.readouterr().err
