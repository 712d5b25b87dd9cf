"""The paploss section of tools/analysis_tools/benchmark_ops.py runs on a
small problem; its re-creation of the authors' dense computation agrees
with mmext's loss (timings are printed, never asserted)."""
import importlib.util
import os.path as osp

import numpy as np
import torch

from mmext.models.losses.parameterized_ap_loss import PAP_PRESETS

TOOLS = osp.join(osp.dirname(__file__), '..', '..', 'tools',
                 'analysis_tools')


def load(name):
    spec = importlib.util.spec_from_file_location(
        name, osp.join(TOOLS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_paploss_section_runs(capsys):
    bench = load('benchmark_ops')
    args = bench.parse_args(['--ops', 'paploss', '--repeat', '1',
                             '--pap-shape', '2', '300', '6', '40', '500',
                             '--pap-preset', 'rcnn'])
    dense, ours = bench.BENCHMARKS['paploss'](args)
    assert (dense['impl'], ours['impl']) == ('authors dense', 'mmext sorted')
    assert max(ours['rel_err']) < 1e-5 and max(ours['rel_err64']) < 1e-6
    assert max(dense['rel_err64']) < 1e-5
    assert ours['shape'] == (2, 300, 6, 40, 500)
    assert 'speed-up' in capsys.readouterr().out


def test_authors_curve_matches_interpolation():
    points = PAP_PRESETS['retinanet']['ctrl_points']['H2']
    x = np.linspace(0, 1, 101)
    curve = load('benchmark_paploss')._authors_curve(
        torch.from_numpy(x), torch.tensor(points, dtype=torch.float64))
    pts = np.reshape(points, (-1, 2))
    np.testing.assert_allclose(curve.numpy(),
                               np.interp(x, pts[:, 0], pts[:, 1]),
                               rtol=1e-12, atol=1e-15)
