"""tools/analysis_tools/benchmark_unigrad.py runs both models on the same
backbone and reports their step times and ratio (no timing asserted)."""
import importlib.util
import json
import os.path as osp

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO, 'tools', 'analysis_tools', 'benchmark_unigrad.py')


def load_script():
    spec = importlib.util.spec_from_file_location('benchmark_unigrad', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_same_backbone_and_report(tmp_path, capsys):
    tool = load_script()
    out = str(tmp_path / 'r.json')
    assert tool.main([
        '--batch-size', '2', '--input-size', '32', '--steps', '1',
        '--warmup', '0', '--json', out
    ]) == 0
    result = json.load(open(out))
    assert result['ratio'] == result['UniGrad_step_ms'] / result[
        'BYOL_step_ms']
    assert result['UniGrad_backbone_params'] == result[
        'BYOL_backbone_params'] == 23_508_032
    assert 'ratio' in capsys.readouterr().out
