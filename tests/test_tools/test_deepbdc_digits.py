"""tools/analysis_tools/deepbdc_digits.py end to end with tiny settings:
the digits are written when missing, the class split lists, Meta DeepBDC
pretraining, meta-training for 1 and 5 shots and the meta-test through
mmengine's Runner, accuracy and interval printed and returned."""
import importlib.util
import json
import os.path as osp

import numpy as np
from sklearn.datasets import load_digits

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO, 'tools', 'analysis_tools', 'deepbdc_digits.py')


def load_script():
    spec = importlib.util.spec_from_file_location('deepbdc_digits', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_deepbdc_digits_end_to_end(tmp_path, capsys):
    tool = load_script()
    result = tool.main([
        '--data-dir', str(tmp_path / 'data'), '--work-dir',
        str(tmp_path / 'work'), '--widths', '8', '16', '16', '16',
        '--pretrain-epochs', '1', '--meta-epochs', '1', '--meta-episodes',
        '2', '--test-episodes', '40'
    ])
    assert osp.isfile(tmp_path / 'data' / 'digits' / '.complete')
    assert osp.isfile(tmp_path / 'work' / 'pretrain' / 'epoch_1.pth')
    # the split: digits 0-4 train, 5-9 test, every image once
    target = load_digits().target
    lists = {}
    for name in ('base', 'novel'):
        with open(tmp_path / 'work' / 'split' / f'{name}.json') as f:
            lists[name] = json.load(f)
    assert lists['base']['label_names'] == ['0', '1', '2', '3', '4']
    assert lists['novel']['label_names'] == ['5', '6', '7', '8', '9']
    for name, low in (('base', 0), ('novel', 5)):
        counts = np.bincount(lists[name]['image_labels'])
        np.testing.assert_array_equal(
            counts, np.bincount(target[(target >= low)
                                       & (target < low + 5)] - low))
    assert not set(lists['base']['image_names']) & set(
        lists['novel']['image_names'])
    for shots in (1, 5):
        assert 0 <= result[f'{shots}shot_accuracy'] <= 100
        assert result[f'{shots}shot_ci95'] > 0
        assert result[f'meta_training_{shots}shot_seconds'] > 0
    out = capsys.readouterr().out
    assert '40 test episodes' in out
    assert '5-way 1-shot:' in out and '5-way 5-shot:' in out
