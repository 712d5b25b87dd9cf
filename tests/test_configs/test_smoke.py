"""Every config in configs/ builds, trains one short epoch on smoke data,
saves a checkpoint, reloads it and evaluates (CPU); self-supervised
pretraining configs (no validation) are checked to reload exactly instead.

Configs are discovered, not listed. Configs that differ only in schedule or
dataset share one run: the key is the model the smoke run builds (the model
config with its ``smoke_model`` changes, :func:`mmext.testing.smoke_model_key`).
"""
import glob
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, load_checkpoint

import mmext  # noqa: F401
from mmext.testing import shrink_config, smoke_model_key

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _discover():
    """One config per distinct model, in a stable order."""
    seen, picked = set(), []
    for path in sorted(glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                                 recursive=True)):
        if '_base_' in path.split(os.sep):
            continue
        cfg = Config.fromfile(path)
        key = smoke_model_key(cfg)
        if key not in seen:
            seen.add(key)
            picked.append(osp.relpath(path, REPO))
    return picked


CONFIGS = _discover()


def test_configs_found():
    assert len(CONFIGS) >= 10


@pytest.mark.parametrize('config', CONFIGS)
def test_train_save_reload_eval(config, smoke_data, tmp_path):
    cfg = Config.fromfile(osp.join(REPO, config))
    cfg = shrink_config(cfg, smoke_data, str(tmp_path))
    cfg.experiment_name = f'smoke_{osp.basename(config)}'
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    runner = Runner.from_cfg(cfg)
    runner.train()
    ckpt = osp.join(str(tmp_path), 'epoch_1.pth')
    assert osp.isfile(ckpt)

    if cfg.get('val_dataloader') is None:
        # self-supervised pretraining: nothing to evaluate; the checkpoint
        # restores every parameter and buffer of the trained model
        model = runner.model
        reloaded = Runner.from_cfg(cfg).model
        load_checkpoint(reloaded, ckpt, map_location='cpu', strict=True)
        for (name, a), b in zip(model.state_dict().items(),
                                reloaded.state_dict().values()):
            assert torch.equal(a, b), f'{config}: {name} not restored'
    else:
        cfg.load_from = ckpt
        cfg.experiment_name += '_test'
        metrics = Runner.from_cfg(cfg).test()
        assert metrics, f'{config}: evaluation returned no metrics'
        for name, value in metrics.items():
            assert value == value, f'{config}: metric {name} is NaN'
    # checkpoints of the big models reach 1 GB: free the disk (the directory
    # stays, mmengine's global visualizers may still write into it)
    for ckpt in glob.glob(osp.join(str(tmp_path), '*.pth')):
        os.remove(ckpt)
