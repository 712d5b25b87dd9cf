"""The gfnet_early_exit section of benchmark_ops.py runs on a small GFNet
and picks thresholds of about half the full cost; times are printed,
never asserted."""
import importlib.util
import os.path as osp

from mmengine.config import Config

SCRIPT = osp.join(
    osp.dirname(__file__), '..', '..', 'tools', 'analysis_tools',
    'benchmark_ops.py')


def test_section_runs(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location('benchmark_ops', SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    config = str(tmp_path / 'gfnet_tiny.py')
    encoder = dict(
        type='mmpretrain.ImageClassifier',
        backbone=dict(type='mmpretrain.ResNet', depth=18, stem_channels=8,
                      base_channels=8),
        neck=dict(type='mmpretrain.GlobalAveragePooling'),
        head=dict(type='mmpretrain.LinearClsHead', num_classes=5,
                  in_channels=64))
    Config(dict(model=dict(
        type='GFNet', patch_size=32, num_steps=3, stage=3,
        global_encoder=encoder,
        classifier=dict(type='GFNetHead', in_channels=64, num_classes=5,
                        hidden_dim=16),
        policy=dict(type='GFNetPolicy', in_channels=64, encoder='conv',
                    hidden_dim=8)))).dump(config)
    args = bench.parse_args([
        '--ops', 'gfnet_early_exit', '--repeat', '1', '--gfnet-batch', '16',
        '--gfnet-configs', config
    ])
    row, = bench.BENCHMARKS['gfnet_early_exit'](args)
    assert abs(row['cost_ratio'] - 0.5) < 0.1
    assert abs(sum(row['exit_fractions']) - 1) < 1e-9
    assert len(row['thresholds']) == 3
    assert 'every-step time' in capsys.readouterr().out
