"""SnapshotHook: which epochs / iterations are saved for several M and
spacings, file names, and that each file holds the model of that moment."""
import copy
import glob
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner, load_checkpoint
from torch.utils.data import DataLoader

import mmext  # noqa: F401
from mmext.engine.hooks import SnapshotHook
from mmext.engine.hooks.snapshot_hook import snapshot_points
from mmext.registry import HOOKS

NUM_SAMPLES, BATCH = 6, 2  # 3 iterations per epoch


class ToyModel(BaseModel):

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(inputs)
        return dict(loss=(out - 1).pow(2).mean()) if mode == 'loss' else out


class WeightsRecorder(Hook):
    """The model's weights after every epoch and every iteration."""

    def __init__(self) -> None:
        self.epochs, self.iters = {}, {}

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.iters[runner.iter + 1] = copy.deepcopy(
            runner.model.state_dict())

    def after_train_epoch(self, runner):
        self.epochs[runner.epoch + 1] = copy.deepcopy(
            runner.model.state_dict())


def _train(tmp_path, hook_cfg, by_epoch, length):
    data = [dict(inputs=torch.randn(2)) for _ in range(NUM_SAMPLES)]
    recorder = WeightsRecorder()
    train_cfg = dict(by_epoch=True, max_epochs=length) if by_epoch else \
        dict(by_epoch=False, max_iters=length)
    runner = Runner(
        model=ToyModel(),
        work_dir=str(tmp_path),
        train_dataloader=DataLoader(data, batch_size=BATCH, shuffle=False),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=train_cfg,
        default_hooks=dict(checkpoint=None),
        custom_hooks=[hook_cfg, recorder],
        experiment_name=f'snapshot_{tmp_path.name}')
    runner.train()
    return runner, recorder


def test_registered():
    assert HOOKS.get('SnapshotHook') is SnapshotHook


@pytest.mark.parametrize('m, begin, end, expected', [
    (5, 0, 240, [48, 96, 144, 192, 240]),
    (4, 0, 100, [25, 50, 75, 100]),
    (3, 0, 10, [4, 7, 10]),  # ceil(10/3), ceil(20/3), 10
    (1, 0, 7, [7]),
    (2, 150, 240, [195, 240]),
    (5, 0, 3, [1, 2, 3]),  # fewer units than snapshots: merged
])
def test_snapshot_points(m, begin, end, expected):
    assert snapshot_points(m, begin, end) == expected


@pytest.mark.parametrize('kwargs', [
    dict(num_snapshots=0),
    dict(num_snapshots=2.0),
    dict(begin=-1),
    dict(begin=3, end=3),
])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError, match='SnapshotHook'):
        SnapshotHook(**kwargs)


@pytest.mark.parametrize('hook_kwargs, by_epoch, length, expected', [
    (dict(num_snapshots=3), True, 6, [2, 4, 6]),
    (dict(num_snapshots=2, begin=2), True, 6, [4, 6]),
    (dict(num_snapshots=2, end=4), True, 6, [2, 4]),
    (dict(num_snapshots=4, by_epoch=False), False, 8, [2, 4, 6, 8]),
    (dict(num_snapshots=3, by_epoch=False), True, 3, [3, 6, 9]),
])
def test_saved_files_hold_the_model_of_that_moment(tmp_path, hook_kwargs,
                                                   by_epoch, length,
                                                   expected):
    out_dir = str(tmp_path / 'snaps')
    hook_cfg = dict(type='SnapshotHook', out_dir=out_dir, **hook_kwargs)
    _, recorder = _train(tmp_path, hook_cfg, by_epoch, length)
    unit = 'epoch' if hook_kwargs.get('by_epoch', True) else 'iter'
    names = sorted(osp.basename(p) for p in glob.glob(f'{out_dir}/*'))
    assert names == sorted(f'snapshot_{unit}_{n}.pth' for n in expected)
    states = recorder.epochs if unit == 'epoch' else recorder.iters
    for n in expected:
        model = ToyModel()
        ckpt = load_checkpoint(
            model, f'{out_dir}/snapshot_{unit}_{n}.pth', strict=True)
        for k, v in model.state_dict().items():
            torch.testing.assert_close(v, states[n][k], rtol=0, atol=0)
        # weights only: the file is a teacher, not a resume point
        assert 'optimizer' not in ckpt and 'param_schedulers' not in ckpt
        assert ckpt['meta']['snapshot_index'] == expected.index(n)
    # the weights did change between snapshots
    assert not torch.equal(states[expected[0]]['linear.weight'],
                           states[expected[-1]]['linear.weight'])


def test_default_dir_logging_and_too_short_training(tmp_path):
    with pytest.warns(UserWarning, match='5 snapshots asked for'):
        runner, _ = _train(tmp_path, dict(type='SnapshotHook'), True, 2)
    files = sorted(glob.glob(str(tmp_path / 'snapshots' / '*.pth')))
    assert [osp.basename(f) for f in files] == [
        'snapshot_epoch_1.pth', 'snapshot_epoch_2.pth'
    ]
    hook = [h for h in runner.hooks if isinstance(h, SnapshotHook)][0]
    assert hook.saved == [osp.join(str(tmp_path), 'snapshots', n) for n in
                          ('snapshot_epoch_1.pth', 'snapshot_epoch_2.pth')]
    with open(runner.logger.log_file) as f:
        log = f.read()
    assert 'saved snapshot 2/2 (epoch 2)' in log
    assert 'saved 2 snapshots' in log


def test_end_beyond_training(tmp_path):
    with pytest.raises(ValueError, match='end=9 is beyond'):
        _train(tmp_path, dict(type='SnapshotHook', num_snapshots=2, end=9),
               True, 3)
