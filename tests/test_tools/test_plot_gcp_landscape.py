"""tools/analysis_tools/plot_gcp_landscape.py on a small synthetic log."""
import importlib.util
import json
import os.path as osp

import numpy as np
import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO, 'tools', 'analysis_tools', 'plot_gcp_landscape.py')


def _load():
    spec = importlib.util.spec_from_file_location('plot_gcp_landscape',
                                                  SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_log(path, scale):
    etas = (0.01, 0.1, 0.5)
    with open(path, 'w') as f:
        # A LoggerHook line without landscape keys is skipped.
        f.write(json.dumps(dict(lr=0.1, loss=2.0, step=1)) + '\n')
        for step in (2, 4, 6):
            rec = {'gcp_landscape/loss': 2.0, 'step': step}
            for eta in etas:
                rec[f'gcp_landscape/loss@{eta:g}'] = 2.0 + scale * eta * step
                rec[f'gcp_landscape/grad_change@{eta:g}'] = scale * eta
            f.write(json.dumps(rec) + '\n')


def test_bands_and_png(tmp_path):
    tool = _load()
    gap, gcp = str(tmp_path / 'gap.json'), str(tmp_path / 'gcp.json')
    _write_log(gap, 3.0)
    _write_log(gcp, 1.0)
    steps, lo, hi = tool.load_bands(gap)['loss']
    np.testing.assert_array_equal(steps, [2, 4, 6])
    np.testing.assert_allclose(lo, [2.06, 2.12, 2.18])
    np.testing.assert_allclose(hi, [5.0, 8.0, 11.0])
    steps, lo, hi = tool.load_bands(gcp)['grad_change']
    np.testing.assert_allclose(lo, [0.01] * 3)
    np.testing.assert_allclose(hi, [0.5] * 3)

    out = str(tmp_path / 'landscape.png')
    tool.main([gap, gcp, '--labels', 'GAP', 'GCP', '--out', out])
    with open(out, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_log_without_values(tmp_path):
    tool = _load()
    path = str(tmp_path / 'empty.json')
    with open(path, 'w') as f:
        f.write(json.dumps(dict(loss=1.0, step=1)) + '\n')
    with pytest.raises(ValueError, match='GCPLandscapeHook'):
        tool.main([path, '--out', str(tmp_path / 'x.png')])
