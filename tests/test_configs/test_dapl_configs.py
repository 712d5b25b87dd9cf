"""configs/dapl: the learning rate per iteration equals what the authors'
code runs (Dassl's warm-up scheduler around CosineAnnealingLR(T_max=25),
stepped after every iteration), and every config's classes, domains and
data folders agree."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import PARAM_SCHEDULERS

import mmext  # noqa: F401
from mmext.datasets.uda_smoke import OFFICE_HOME_FOLDERS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'dapl', '*.py')))


def authors_lrs(num_iters, lr=3e-3, warmup_lr=1e-5, t_max=25):
    """Dassl's LinearWarmupScheduler (warm-up 1, min_lr 1e-5) around
    torch's CosineAnnealingLR, stepped once per iteration as DAPL does:
    the first iteration at the warm-up lr, iteration k >= 1 at the cosine
    scheduler's (k - 1)-th value."""
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=lr)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=t_max)
    lrs = [warmup_lr]
    for k in range(1, num_iters):
        if k > 1:
            opt.step()
            cosine.step()
        lrs.append(opt.param_groups[0]['lr'])
    return lrs


def test_learning_rate_per_iteration_is_the_authors():
    cfg = Config.fromfile(CONFIGS[0])
    model = torch.nn.Linear(1, 1)
    # AMP needs an accelerator; the optimizer is the config's
    wrapper = build_optim_wrapper(
        model, dict(type='OptimWrapper', optimizer=cfg.optim_wrapper.optimizer))
    schedulers = [
        PARAM_SCHEDULERS.build(
            dict(s, optimizer=wrapper.optimizer),
            default_args=dict(epoch_length=100))
        for s in cfg.param_scheduler
    ]
    ours = []
    for _ in range(160):
        ours.append(wrapper.optimizer.param_groups[0]['lr'])
        wrapper.optimizer.step()
        for s in schedulers:
            s.step()
    ref = authors_lrs(160)
    assert ours == pytest.approx(ref, rel=1e-9, abs=1e-12)
    # a periodic cosine of 50 iterations between 3e-3 and 0
    assert ours[1] == pytest.approx(3e-3) and ours[51] == pytest.approx(3e-3)
    assert ours[26] == pytest.approx(0, abs=1e-12)
    assert cfg.optim_wrapper.optimizer == dict(
        type='SGD', lr=3e-3, momentum=0.9, weight_decay=5e-4)
    assert cfg.train_cfg.max_epochs == 25


def test_config_set():
    names = [osp.basename(p) for p in CONFIGS]
    for bench in ('office-home', 'mini-domainnet'):
        for arch in ('rn50', 'vit-b16'):
            pairs = [n for n in names if f'dapl_{arch}_' in n and bench in n]
            assert len(pairs) == 12, (bench, arch)
    assert 'dapl_rn101-csc_1xb32-coslr-25e_visda17.py' in names


@pytest.mark.parametrize(
    'path', CONFIGS, ids=[osp.basename(p)[:-3] for p in CONFIGS])
def test_classes_domains_and_folders_agree(path):
    cfg = Config.fromfile(path)
    train = cfg.train_dataloader.dataset
    val = cfg.val_dataloader.dataset
    classes = tuple(cfg.model.classnames)
    assert tuple(train.source.classes) == tuple(train.target.classes) == \
        tuple(val.target.classes) == classes
    assert tuple(train.domains) == tuple(val.domains)
    assert train.source.pipeline != val.target.pipeline
    assert cfg.train_dataloader.batch_size == 32
    source, target = train.domains
    if 'office-home' in path:
        assert classes == tuple(f.lower() for f in OFFICE_HOME_FOLDERS)
        assert (train.source.data_prefix, train.target.data_prefix,
                val.target.data_prefix) == (source, target, target)
    elif 'mini-domainnet' in path:
        assert len(classes) == 126
        assert train.source.ann_file == f'splits_mini/{source}_train.txt'
        assert train.target.ann_file == f'splits_mini/{target}_train.txt'
        assert val.target.ann_file == f'splits_mini/{target}_test.txt'
    else:
        assert (source, target) == ('synthetic', 'real')
        assert len(classes) == 12
    assert cfg.model.class_specific_ctx == ('-csc' in path)
