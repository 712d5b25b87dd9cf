"""configs/kd and configs/wkd follow the authors' optimizer: their trainer
(JiamingLv/WKD and mdistiller, ``mdistiller/engine/trainer.py``,
``init_optimizer``) builds ``optim.SGD(..., momentum=0.9, nesterov=True)``
for every CIFAR-100 and ImageNet run. The ImageNet teachers are torchvision's
weights and keep mmpretrain's recipe; the CIFAR-100 baselines share the
distillation schedule."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

import mmext  # noqa: F401

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    p for folder in ('kd', 'wkd')
    for p in glob.glob(osp.join(REPO, 'configs', folder, '*.py'))
    if p.endswith('_cifar100.py') or (p.endswith('_in1k.py') and osp.basename(
        p).startswith(('kd_', 'wkd'))))


def test_found_configs():
    assert len(CONFIGS) >= 20


@pytest.mark.parametrize(
    'path', CONFIGS, ids=lambda p: osp.relpath(p, REPO))
def test_sgd_with_nesterov_momentum(path):
    cfg = Config.fromfile(path)
    wrapper = build_optim_wrapper(
        torch.nn.Linear(2, 2), dict(cfg.optim_wrapper))
    optimizer = wrapper.optimizer
    assert isinstance(optimizer, torch.optim.SGD)
    group = optimizer.param_groups[0]
    assert group['nesterov'] is True and group['momentum'] == 0.9
