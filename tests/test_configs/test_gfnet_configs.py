"""GFNet configs: every backbone and patch size of the paper has its three
stages; the stage-3 models have the authors' parameter totals and per-step
multiply-adds (``../shared/research/adaptive.md`` §1.7, measured on their
code), and each family has the authors' recipe (§1.5)."""
import glob
import os.path as osp
from functools import lru_cache

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

import mmext  # noqa: F401
from mmext.evaluation.step_cost import measure_step_costs

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(REPO, 'configs', 'gfnet')

#: (backbone-patch of the config names, epochs of stages 1 and 3,
#:  authors' total parameters, cumulative MACs per step in M (None: the
#:  research notes give first and last only), first and last step)
AUTHORS = [
    ('resnet50-p96', 60, 107_732_027,
     [761.2, 1568.5, 2375.8, 3183.1, 3990.4]),
    ('resnet50-p128', 60, 137_092_155,
     [1345.0, 2765.6, 4186.1, 5606.6, 7027.2]),
    ('densenet121-p96', 60, 50_555_579,
     [527.7, 1082.6, 1637.6, 2192.5, 2747.5]),
    ('densenet169-p96', 60, 76_659_387, (626.1, 3286.7)),
    ('densenet201-p96', 60, 93_893_307, (797.9, 4164.7)),
    ('regnety-600mf-p96', 60, 18_643_931,
     [117.7, 235.4, 353.1, 470.8, 588.5]),
    ('regnety-800mf-p96', 60, 19_556_587, (154.2, 770.9)),
    ('regnety-1.6gf-p96', 60, 29_807_591, (304.9, 1524.1)),
    ('mobilenetv3-large-p96', 90, 29_390_291, [43.1, 88.1, 134.5]),
    ('mobilenetv3-large-p128', 90, 29_447_635, [73.4, 149.2, 226.2]),
    ('mobilenetv3-large-1.25-p128', 90, 33_593_203, [119.5, 241.5, 364.7]),
    ('efficientnet-b2-p128', 30, 38_507_895, [217.0, 436.7, 657.7, 880.2]),
    ('efficientnet-b3-p128', 30, 46_550_467,
     [316.6, 636.1, 957.2, 1279.7]),
    ('efficientnet-b3-p144', 30, 46_624_195, (432.4, 1744.5)),
]
#: per family: encoders' lr, classifier lr in stages 1 and 3, weight decay,
#: deep-supervision weight, steps, classifier, glance interpolation
RECIPES = {
    'resnet50': (0.01, 0.1, 0.01, 1e-4, 1.0, 5, 'gru', 'bicubic'),
    'densenet': (0.01, 0.1, 0.01, 1e-4, 1.0, 5, 'gru', 'bilinear'),
    'regnety': (0.02, 0.1, 0.01, 5e-5, 1.0, 5, 'gru', 'bilinear'),
    'mobilenetv3': (0.005, 0.1, 0.01, 1e-4, 5.0, 3, 'cascade', 'bicubic'),
    'efficientnet': (0.005, 0.1, 0.01, 1e-4, 5.0, 4, 'cascade', 'bicubic'),
}


@lru_cache(maxsize=None)
def _config(stage: int, name: str, epochs: int) -> Config:
    stage_epochs = 15 if stage == 2 else epochs
    return Config.fromfile(
        osp.join(CONFIGS,
                 f'gfnet-stage{stage}_{name}_8xb32_{stage_epochs}e_in1k.py'))


def test_configs_found():
    # three stages per backbone and patch size (test_recipe loads each)
    in1k = glob.glob(osp.join(CONFIGS, '*_in1k.py'))
    assert len(in1k) == 3 * len(AUTHORS)


@pytest.mark.parametrize('name, epochs, params, macs', AUTHORS,
                         ids=[a[0] for a in AUTHORS])
def test_stage3_counts(name, epochs, params, macs):
    cfg = _config(3, name, epochs).model.to_dict()
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg)
    assert sum(p.numel() for p in model.parameters()) == params
    # authors' convention (conv, linear and GRU layers), shapes only
    model = model.to('meta').eval()
    costs = measure_step_costs(model,
                               torch.empty(1, 3, 224, 224, device='meta'))
    costs = [round(c / 1e6, 1) for c in costs]
    if isinstance(macs, tuple):
        costs = (costs[0], costs[-1])
    assert costs == macs


@pytest.mark.parametrize('name, epochs', [a[:2] for a in AUTHORS],
                         ids=[a[0] for a in AUTHORS])
def test_recipe(name, epochs):
    family = next(f for f in RECIPES if name.startswith(f))
    lr, fc_lr1, fc_lr3, wd, dsn, steps, mode, glance = RECIPES[family]
    stage1, stage2, stage3 = (_config(s, name, epochs) for s in (1, 2, 3))
    for stage, cfg in enumerate((stage1, stage2, stage3), 1):
        assert cfg.model.stage == stage
        assert cfg.model.patch_size == int(name.split('-p')[-1])
    assert stage1.optim_wrapper.optimizer.lr == lr
    assert stage1.optim_wrapper.optimizer.weight_decay == wd
    assert stage1.optim_wrapper.optimizer.nesterov
    for cfg, fc_lr in ((stage1, fc_lr1), (stage3, fc_lr3)):
        mult = cfg.optim_wrapper.paramwise_cfg.custom_keys.classifier.lr_mult
        assert lr * mult == pytest.approx(fc_lr)
        assert cfg.train_cfg.max_epochs == epochs
    assert stage2.optim_wrapper.optimizer.type == 'Adam'
    assert stage2.optim_wrapper.optimizer.lr == 3e-4
    assert stage2.train_cfg.max_epochs == 15
    assert set(stage2.model.frozen) == {
        'global_encoder', 'local_encoder', 'classifier'
    }
    model = stage1.model
    assert (model.dsn_ratio, model.num_steps) == (dsn, steps)
    assert model.classifier.get('mode', 'gru') == mode
    assert model.glance_interpolation == glance
    # the global encoder is trained with f_L (ResNet, DenseNet, RegNet) or
    # fine-tuned beforehand and frozen (MobileNetV3, EfficientNet)
    frozen = 'global_encoder' in model.get('frozen', ())
    assert frozen == (mode == 'cascade')
    # each stage resumes from the previous one's last checkpoint
    assert stage2.load_from.endswith(
        f'gfnet-stage1_{name}_8xb32_{epochs}e_in1k/epoch_{epochs}.pth')
    assert stage3.load_from.endswith(
        f'gfnet-stage2_{name}_8xb32_15e_in1k/epoch_15.pth')
