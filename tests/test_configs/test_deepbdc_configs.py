"""DeepBDC configs build the authors' models: parameter counts of the
authors' code (DeepBDC count_deepbdc.out), the test model being the
backbone + BDC layer (the pretraining classifier dropped)."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmpretrain.registry import MODELS

import mmext  # noqa: F401

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# config -> (whole model, test model)
COUNTS = {
    'deepbdc-meta_resnet12_pretrain-1xb64-170e_mini-imagenet.py':
    (25552065, 12424321),
    'deepbdc-meta_resnet12_5way-1shot-100e_mini-imagenet.py':
    (12424321, 12424321),
    'deepbdc-stl_resnet12_5way-5shot_mini-imagenet.py': (13034945, 12506497),
    'deepbdc-meta_resnet12_pretrain-1xb64-100e_tiered-imagenet.py':
    (24135520, 12588673),
    'deepbdc-meta_resnet12_5way-5shot-100e_tiered-imagenet.py':
    (12588673, 12588673),
    'deepbdc-stl_resnet12_pretrain-1xb64-90e_tiered-imagenet.py':
    (15404704, 12506497),
    'deepbdc-meta_resnet18_pretrain-1xb64-400e_cub.py': (17887497, 11308097),
    'deepbdc-meta_resnet18_5way-1shot-60e_cub.py': (11308097, 11308097),
    'deepbdc-stl_resnet18_5way-1shot_cub.py': (12893705, 11242305),
}


def _n(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize('config', sorted(COUNTS))
def test_parameter_counts(config):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'deepbdc', config))
    model = MODELS.build(cfg.model)
    total, test = COUNTS[config]
    assert _n(model) == total
    assert _n(model.backbone) + _n(model.neck) == test
    assert model.backbone.__class__.__name__ == (
        'DeepBDCResNet18' if config.endswith('_cub.py') else
        'DeepBDCResNet12')


def test_schedules_and_episodes():
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', 'deepbdc',
                 'deepbdc-meta_resnet12_5way-5shot-100e_mini-imagenet.py'))
    ds = cfg.train_dataloader.dataset
    assert (ds.num_ways, ds.num_shots, ds.num_queries,
            ds.num_episodes) == (5, 5, 16, 600)
    assert cfg.test_cfg.num_episodes == 2000 and cfg.test_cfg.num_runs == 5
    assert cfg.test_cfg.num_shots == cfg.val_cfg.num_shots == 5
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', 'deepbdc',
                 'deepbdc-stl_resnet12_5way-5shot_tiered-imagenet.py'))
    assert cfg.test_cfg.classifier.C == 30
    assert cfg.test_cfg.num_shots == 5


@pytest.mark.parametrize('config', [
    'deepbdc-meta_resnet12_5way-5shot-100e_mini-imagenet.py',
    'deepbdc-stl_resnet12_5way-5shot_mini-imagenet.py'
])
def test_5shot_meta_test_on_digits(config, smoke_data, tmp_path):
    """The 5-shot meta-tests (the smoke test trains the 1-shot configs of
    the same models) run on 5-way 5-shot digits episodes and report the
    accuracy and its interval."""
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    from mmext.testing import shrink_config
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'deepbdc', config))
    cfg = shrink_config(cfg, smoke_data, str(tmp_path))
    assert cfg.test_cfg.num_shots == 5
    cfg.experiment_name = f'deepbdc_5shot_{config}'
    init_default_scope('mmpretrain')
    metrics = Runner.from_cfg(cfg).test()
    assert 0 <= metrics['few_shot/accuracy'] <= 100
    assert metrics['few_shot/ci95'] >= 0
    assert metrics['few_shot/num_episodes'] == 5
