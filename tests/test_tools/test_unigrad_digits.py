"""tools/analysis_tools/unigrad_digits.py: the linear evaluation against
hand-made features, and one short pretraining epoch end to end through
mmengine's Runner on the smoke digits."""
import importlib.util
import os.path as osp

import numpy as np
import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO, 'tools', 'analysis_tools', 'unigrad_digits.py')
spec = importlib.util.spec_from_file_location('unigrad_digits', SCRIPT)
unigrad_digits = importlib.util.module_from_spec(spec)
spec.loader.exec_module(unigrad_digits)


def test_linear_eval_separable_and_chance():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 50)
    centres = np.eye(4) * 10
    x = centres[y] + rng.normal(0, 0.5, (200, 4))
    assert unigrad_digits.linear_eval(x[::2], y[::2], x[1::2],
                                      y[1::2]) == 100.0
    noise = rng.normal(0, 1, (400, 8))
    labels = rng.integers(0, 4, 400)
    acc = unigrad_digits.linear_eval(noise[:200], labels[:200], noise[200:],
                                     labels[200:])
    assert 10 < acc < 40  # chance: 25%


def test_schedule_follows_epochs(tmp_path):
    cfg = unigrad_digits.build_config(str(tmp_path), 'd', 3, 0)
    assert cfg.train_cfg.max_epochs == 3
    assert cfg.param_scheduler[0].end == 1
    assert (cfg.param_scheduler[1].begin, cfg.param_scheduler[1].end,
            cfg.param_scheduler[1].T_max) == (1, 3, 2)
    with pytest.raises(SystemExit):
        unigrad_digits.parse_args(['--epochs', '0'])


def test_one_epoch_end_to_end(smoke_data, tmp_path, capsys):
    result = unigrad_digits.main([
        '--epochs', '1', '--work-dir', str(tmp_path), '--data',
        osp.join(smoke_data, 'digits')
    ])
    assert osp.isfile(tmp_path / 'epoch_1.pth')
    for key in ('random_encoder_top1', 'unigrad_encoder_top1'):
        assert 10 < result[key] <= 100  # 10 classes: chance is 10%
    out = capsys.readouterr().out
    assert 'random encoder' in out and 'UniGrad encoder' in out
