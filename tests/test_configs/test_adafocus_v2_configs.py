"""AdaFocusV2 configs: the authors' parameter counts and multiply-adds, the
authors' learning-rate multipliers per part reach the optimizer
(paramwise_cfg custom_keys), and the recipes."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from torch.utils.flop_counter import FlopCounterMode

import mmext  # noqa: F401
from mmext.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'adafocus_v2', '*.py')))
#: the authors' lr_mult per part (main_v2.py / main.py get_optim_policies)
MULTIPLIERS = {
    'AdaFocusV2': dict(policy=0.1, global_backbone=0.5, global_fc=0.5,
                       local_backbone=1, local_fc=1, classifier=5),
    'AdaFocusV2TSM': dict(policy=0.01, global_backbone=0.5, global_fc=0.5,
                          global_aux_fc=0.5, local_backbone=1, local_fc=1,
                          local_aux_fc=1),
}


def test_configs_found():
    assert len(CONFIGS) == 16


@pytest.mark.parametrize('path', [
    'adafocus-v2_mobilenetv2-r50-p128_4xb8-50e_activitynet.py',
    'adafocus-v2_tsm-mobilenetv2-r50-p128_4xb8-50e_sthv1.py'
])
def test_lr_multipliers_per_part(path):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'adafocus_v2', path))
    cfg.merge_from_dict(dict(model=cfg.smoke_model))  # small, same names
    init_default_scope('mmaction')
    model = MODELS.build(cfg.model)
    optimizer = build_optim_wrapper(model, cfg.optim_wrapper).optimizer
    lr_of = {
        id(p): group['lr']
        for group in optimizer.param_groups for p in group['params']
    }
    base = cfg.optim_wrapper.optimizer.lr
    expect = MULTIPLIERS[cfg.model.type]
    for name, param in model.named_parameters():
        assert lr_of[id(param)] == pytest.approx(
            base * expect[name.split('.')[0]]), name


# parameters as built, multiply-adds per video at 224 pixels (shapes only,
# on the meta device), and the authors' figure: their forward also runs the
# two auxiliary heads at test time (frames x (global + local channels) x
# classes multiply-adds), which only the training loss reads
@pytest.mark.parametrize('path, frames, params, gmacs, heads, authors', [
    ('adafocus-v2_mobilenetv2-r50-p128_4xb8-50e_activitynet.py', 16,
     84_845_010, 26.946, 16 * (1280 + 2048) * 200, 26.96),
    ('adafocus-v2_resnet50-r50-p128_4xb8-50e_activitynet.py', 16,
     104_234_770, 34.086, 16 * (2048 + 2048) * 200, 34.10),
    ('adafocus-v2_tsm-mobilenetv2-r50-p128_4xb8-50e_sthv1.py', 8 + 12,
     31_287_418, 18.459, 0, 18.46),
])
def test_authors_counts(path, frames, params, gmacs, heads, authors):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'adafocus_v2', path))
    init_default_scope('mmaction')
    model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) == params
    model = model.to('meta').eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.empty(1, frames, 3, 224, 224, device='meta'),
              mode='tensor')
    macs = counter.get_total_flops() / 2
    assert round(macs / 1e9, 3) == gmacs
    assert round((macs + heads) / 1e9, 2) == authors


@pytest.mark.parametrize('path', CONFIGS)
def test_recipe(path):
    cfg = Config.fromfile(path)
    name = osp.basename(path)
    patch = int(name.split('-p')[1].split('_')[0])
    assert cfg.model.patch_size == patch
    assert cfg.train_cfg.max_epochs == 50
    batch = cfg.train_dataloader.batch_size * 4
    assert cfg.auto_scale_lr.base_batch_size == batch
    if cfg.model.type == 'AdaFocusV2':
        lr = 0.003 if 'mini-kinetics' in name else 0.002
        classes = 239 if 'fcvid' in name else 200
    else:
        lr, classes = 0.01, 27 if 'jester' in name else 174
    assert cfg.optim_wrapper.optimizer.lr == lr
    assert cfg.model.num_classes == classes
