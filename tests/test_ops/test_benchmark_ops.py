"""tools/analysis_tools/benchmark_ops.py runs and its straightforward
baseline (M x M centring matrix, per-batch backward loop) agrees with the
op; timings are printed, never asserted."""
import importlib.util
import os.path as osp

import pytest
import torch

from mmext.ops import deform_sample

SCRIPT = osp.join(
    osp.dirname(__file__), '..', '..', 'tools', 'analysis_tools',
    'benchmark_ops.py')


def load_script():
    spec = importlib.util.spec_from_file_location('benchmark_ops', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cov_sqrt_section_runs(capsys):
    bench = load_script()
    assert 'cov_sqrt' in bench.BENCHMARKS
    args = bench.parse_args(
        ['--ops', 'cov_sqrt', '--repeat', '1', '--cov-shape', '2', '6', '20',
         '3'])
    rows = bench.BENCHMARKS['cov_sqrt'](args)
    impls = {r['impl'] for r in rows}
    assert {'reference', 'straightforward'} <= impls
    for r in rows:
        assert max(r['rel_err']) < 1e-4
        assert r['units'] > 0
    assert 'units' in capsys.readouterr().out


def test_straightforward_baseline_matches_eigh_sqrt():
    bench = load_script()
    x = torch.randn(2, 5, 100, dtype=torch.float64)
    out = bench.isqrt_cov_straightforward(x, 25)
    xc = x - x.mean(2, keepdim=True)
    w, v = torch.linalg.eigh(xc @ xc.transpose(1, 2) / 100)
    root = v @ torch.diag_embed(w.sqrt()) @ v.transpose(1, 2)
    rows, cols = torch.triu_indices(5, 5)
    torch.testing.assert_close(out, root[:, rows, cols])


def test_acmix_memory_section_runs(capsys):
    """Both models' training steps run and the printed ratio is acmix /
    plain; one thread, as two OpenMP threads crawl on a loaded machine."""
    bench = load_script()
    args = bench.parse_args(
        ['--ops', 'acmix_memory', '--acmix-shape', '2', '16', '16'])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        plain, acmix = bench.BENCHMARKS['acmix_memory'](args)
    finally:
        torch.set_num_threads(threads)
    assert (plain['model'], acmix['model']) == ('ResNet-50',
                                                'ACmix-ResNet-50')
    assert (plain['params'], acmix['params']) == (25_557_032, 18_333_976)
    assert plain['shape'] == acmix['shape'] == (2, 16, 16)
    if plain['peak_mb']:  # n/a where VmHWM cannot be reset
        assert acmix['ratio'] == acmix['peak_mb'] / plain['peak_mb']
        assert 'ACmix-ResNet-50 / ResNet-50' in capsys.readouterr().out


def test_deform_sample_side_by_side_and_targets():
    spec = importlib.util.spec_from_file_location(
        'benchmark_deform_sample',
        osp.join(osp.dirname(SCRIPT), 'benchmark_deform_sample.py'))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.bench_op(
        batch=1, repeats=2, shapes=(('tiny', 2, 3, 5, 5, 4, 4), ))
    assert rows[0]['op_time'] > 0 and rows[0]['ref_time'] > 0
    step = dict(name='DAT-T train step', op_time=0.9, ref_time=1.0,
                op_mem=1, ref_mem=1)
    met = dict(name='a', op_time=0.2, ref_time=1.0, op_mem=1, ref_mem=1)
    text = bench.format_targets([met, step])
    assert 'worst 0.20 (a), target <= 0.5 ok' in text
    assert 'DAT-T step op / fallback: 0.90, target <= 0.93 ok' in text
    slow = dict(met, op_time=0.6, op_mem=2)
    assert bench.format_targets([slow]).count('MISSED') == 2
    # the GPU breakdown: kernels alone and the op without its value checks
    gpu = dict(met, op_kernel=3e-5, ref_kernel=2e-5, op_unchecked_time=0.4)
    table = bench.format_rows([gpu]).splitlines()
    assert table[-1].split() == ['a', '0.030', '0.020', '1.50', '400.00',
                                 '0.40']
    assert 'without value checks' not in bench.format_rows([met])
    bad = torch.full((1, 1, 2, 2), float('nan'))
    grid = torch.zeros(1, 1, 1, 2)
    with bench.without_value_checks():
        assert torch.isnan(deform_sample(bad, grid)).all()
    with pytest.raises(ValueError, match='NaN or Inf'):
        deform_sample(bad, grid)


def test_deform_sample_section_batch_and_device_options(capsys):
    """--deform-batch sizes the DAT-T stage shapes, --no-deform-model drops
    the training-step row; both columns agree (op vs F.grid_sample)."""
    bench = load_script()
    args = bench.parse_args(
        ['--ops', 'deform_sample', '--repeat', '1', '--deform-batch', '1',
         '--no-deform-model', '--device', 'cpu'])
    rows = bench.BENCHMARKS['deform_sample'](args)
    assert [r['name'].split(' (')[0] for r in rows] == [
        'stage3 kv', 'stage3 rpe', 'stage4 kv', 'stage4 rpe']
    assert rows[0]['name'].startswith('stage3 kv (3x128x14x14')  # batch 1
    assert all(r['op_time'] > 0 and r['ref_time'] > 0 for r in rows)
    out = capsys.readouterr().out
    assert 'batch 1, cpu' in out and 'fusion headroom' in out


def test_tcp_pool_section_runs(capsys):
    """TCP's video pooling and the authors'-style baseline agree (tiny
    shape); the ratio is printed, never asserted."""
    bench = load_script()
    args = bench.parse_args(
        ['--ops', 'tcp_pool', '--repeat', '1', '--tcp-shape', '2', '4', '5',
         '3', '2'])
    rows = bench.BENCHMARKS['tcp_pool'](args)
    assert [r['impl'] for r in rows] == ['mmext', 'straightforward']
    for r in rows:
        assert r['shape'] == (2, 4, 5, 3, 2)
        assert max(r['rel_err']) < 1e-4
    assert 'mmext vs straightforward' in capsys.readouterr().out


def test_mlkp_section_runs(capsys):
    """Both blocks run at a small size and agree; the ratio is printed."""
    bench = load_script()
    args = bench.parse_args(
        ['--ops', 'mlkp', '--repeat', '1', '--mlkp-shape', '1', '64', '96'])
    every, even = bench.BENCHMARKS['mlkp'](args)
    assert (every['impl'], even['impl']) == ('every position', 'mmext even')
    assert max(even['rel_err']) < 1e-5
    assert 'target: time' in capsys.readouterr().out


def test_bdc_pool_section_runs(capsys):
    """mmext's BDC pooling and the straightforward one agree (tiny shape);
    the time and memory ratios are printed, never asserted."""
    bench = load_script()
    args = bench.parse_args(
        ['--ops', 'bdc_pool', '--repeat', '1', '--bdc-shape', '3', '6', '3',
         '4'])
    plain, ours = bench.BENCHMARKS['bdc_pool'](args)
    assert (plain['impl'], ours['impl']) == ('straightforward', 'mmext')
    assert ours['shape'] == (3, 6, 3, 4)
    assert max(ours['rel_err']) < 1e-5
    assert ours['time_ratio'] > 0
    assert 'targets (mmext / straightforward)' in capsys.readouterr().out


def test_bdc_straightforward_baseline_matches_cdist():
    bench = load_script()
    x = torch.randn(2, 5, 3, 4, dtype=torch.float64)
    t = torch.full((1, 1), -1.5, dtype=torch.float64)
    out = bench.bdc_pool_straightforward(x, t)
    dist = torch.cdist(x.flatten(2), x.flatten(2))
    a = torch.sqrt(dist.square() * torch.exp(t) + 1e-5)
    n = torch.eye(5, dtype=torch.float64) - 1 / 5
    c = n @ a @ n
    rows, cols = torch.triu_indices(5, 5)
    torch.testing.assert_close(out, c[:, rows, cols])


def test_cov_time_targets_are_the_cpus(capsys):
    bench = load_script()
    rows = [
        dict(shape=shape, impl='extension', units=units, speedup=speedup,
             rel_err=(1e-6, 1e-6))
        for shape, units, speedup in ((bench.COV_UNIT_TARGET[0], 50.0, 3.0),
                                      (bench.COV_SPEEDUP_TARGET[0], 9.0,
                                       1.6))
    ]
    bench._report_cov_targets(rows, 'cpu')
    assert capsys.readouterr().out.count('MISSED') == 2
    bench._report_cov_targets(rows, 'cuda')
    out = capsys.readouterr().out
    assert 'MISSED' not in out
    assert out.count('(a CPU target; measured on cuda, for information)') \
        == 2
