"""Every mmengine runner checks its config once, before it builds anything:
built by mmext's tools, by mmpretrain's stock tools/train.py (the config
imports mmext through ``custom_imports``) or directly."""
import importlib.util
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import FlexibleRunner, Runner
from mmengine.utils import get_installed_path

import mmext  # noqa: F401
from mmext.utils import ConfigError, config_check

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = 'configs/eca/eca_resnet18_1xb64_30e_digits.py'
STOCK_TRAIN = osp.join(
    get_installed_path('mmpretrain'), '.mim', 'tools', 'train.py')


def _model(backbone: str = 'CIFARKDResNet') -> dict:
    return dict(
        type='ImageClassifier',
        backbone=dict(type=backbone, arch='resnet8'),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=2, in_channels=64))


def _config(tmp_path, **cfg) -> Config:
    """``cfg`` as read from the file ``tmp_path / 'my_cfg.py'``."""
    path = str(tmp_path / 'my_cfg.py')
    Config(cfg).dump(path)
    return Config.fromfile(path)


@pytest.fixture
def checks(monkeypatch):
    """The ``filename`` of every complete config check, in order (counted
    at check_config's first step)."""
    calls = []
    original = config_check.check_key_types

    def counting(cfg, filename=None):
        calls.append(filename)
        return original(cfg, filename)

    monkeypatch.setattr(config_check, 'check_key_types', counting)
    return calls


@pytest.mark.parametrize('runner_cls', [Runner, FlexibleRunner])
def test_misspelled_type_stops_before_building(runner_cls, tmp_path):
    work_dir = tmp_path / 'work'
    cfg = _config(tmp_path, model=_model('CIFARKDResNt'),
                  work_dir=str(work_dir), default_scope='mmpretrain')
    with pytest.raises(ConfigError,
                       match=r"^config key model\.backbone\.type: "
                       r"'CIFARKDResNt' is not a registered model in scope "
                       r"'mmpretrain'; did you mean 'CIFARKDResNet'.* "
                       r'\(in .*my_cfg\.py\)$'):
        runner_cls.from_cfg(cfg)
    # the runner creates its work_dir first thing: it never started
    assert not work_dir.exists()


def test_checked_once_per_runner(checks, tmp_path):
    cfg = _config(tmp_path, model=_model(), work_dir=str(tmp_path),
                  default_scope='mmpretrain', experiment_name='check_from_cfg')
    Runner.from_cfg(cfg)
    assert checks == [cfg.filename]
    Runner(model=_model(), work_dir=str(tmp_path), default_scope='mmpretrain',
           experiment_name='check_direct')
    assert checks == [cfg.filename, None]


def _load_tool(name: str):
    spec = importlib.util.spec_from_file_location(
        f'mmext_tools_{name}', osp.join(REPO, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mmext_tools_check_once(checks, monkeypatch, smoke_data, tmp_path):
    monkeypatch.setattr(Runner, 'train', lambda self: None)
    monkeypatch.setattr(Runner, 'test', lambda self: {})
    monkeypatch.chdir(REPO)
    root = osp.join(smoke_data, 'imagenet')
    options = [
        '--cfg-options', f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}'
    ]
    _load_tool('train').main(
        [DEMO, '--work-dir', str(tmp_path), *options,
         'experiment_name=tools_train'])
    assert checks == [DEMO]
    ckpt = tmp_path / 'ckpt.pth'
    torch.save(dict(state_dict={}), ckpt)
    _load_tool('test').main(
        [DEMO, str(ckpt), '--work-dir', str(tmp_path), *options,
         'experiment_name=tools_test'])
    assert checks == [DEMO, DEMO]


@pytest.mark.parametrize('option,pattern', [
    ('model.backbone.type=ECAResNt',
     r"ConfigError: config key model\.backbone\.type: 'ECAResNt' is not a "
     r"registered model in scope 'mmpretrain'; did you mean 'ECAResNet'.*"
     + re.escape(DEMO)),
    ('train_dataloader.dataset.data_root=/nonexistent/digits',
     r'FileNotFoundError: config key train_dataloader\.dataset\.data_root: '
     r"directory '/nonexistent/digits' does not exist"),
])
def test_stock_mmpretrain_train(tmp_path, option, pattern):
    proc = subprocess.run(
        [sys.executable, STOCK_TRAIN, DEMO, '--work-dir', str(tmp_path),
         '--cfg-options', option],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert re.search(pattern, last), proc.stderr[-3000:]
    # stopped before the runner made its log folder
    assert not list(tmp_path.iterdir())
