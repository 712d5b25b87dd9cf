"""tools/analysis_tools/adaptive_inference.py on the toy multi-exit model
(``tests/multi_exit_toy.py``) and a tiny ImageNet-style dataset: the
reported accuracies, exit fractions and expected costs are recomputed from
the model's own ``test_step`` predictions with per-sample loops, the step
costs from closed forms. Timings are only required to be positive."""
import importlib.util
import json
import math
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope
from mmengine.runner import Runner
from multi_exit_toy import ToyMultiExitClassifier, closed_form_costs

from mmext.datasets.smoke_data import make_imagenet_style

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO, 'tools', 'analysis_tools', 'adaptive_inference.py')
SIZE, CLASSES = 16, 4

CONFIG = """
custom_imports = dict(imports=['mmext', 'multi_exit_toy'],
                      allow_failed_imports=False)
default_scope = 'mmpretrain'
model = dict(
    type='{model}', num_classes=4,
    data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=4,
                           mean=[127.5] * 3, std=[127.5] * 3, to_rgb=True))
train_dataloader = dict(
    batch_size=4, num_workers=0,
    dataset=dict(type='CustomDataset', data_root='{root}',
                 data_prefix='train',
                 pipeline=[dict(type='LoadImageFromFile'),
                           dict(type='RandomResizedCrop', scale=16),
                           dict(type='RandomFlip', prob=0.5),
                           dict(type='PackInputs')]),
    sampler=dict(type='DefaultSampler', shuffle=True))
test_dataloader = dict(
    batch_size=4, num_workers=0,
    dataset=dict(type='CustomDataset', data_root='{root}', data_prefix='val',
                 pipeline=[dict(type='LoadImageFromFile'),
                           dict(type='PackInputs')]),
    sampler=dict(type='DefaultSampler', shuffle=False))
"""


def _tool():
    spec = importlib.util.spec_from_file_location('adaptive_inference',
                                                  SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('adaptive')
    root = make_imagenet_style(
        str(tmp / 'data'), num_classes=CLASSES, train_per_class=6,
        val_per_class=5, size=SIZE)
    config = tmp / 'toy.py'
    config.write_text(CONFIG.format(model='ToyMultiExitClassifier',
                                    root=root))
    torch.manual_seed(0)
    model = ToyMultiExitClassifier(num_classes=CLASSES)
    # spread the heads' logits so the confidences differ between images
    for head in model.heads:
        head.weight.data.mul_(20)
    checkpoint = tmp / 'toy.pth'
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    return str(config), str(checkpoint), tmp


def _reference(config):
    """``(T, N, C)`` step logits and ``(N,)`` labels of the test images
    through the model's own data path (``test_step``, predict mode)."""
    cfg = Config.fromfile(config)
    init_default_scope('mmpretrain')
    net = MODELS.build(cfg.model)
    state = torch.load(osp.join(osp.dirname(config), 'toy.pth'))
    net.load_state_dict(state['state_dict'])
    net.eval()
    logits, labels = [], []
    with torch.no_grad():
        for batch in Runner.build_dataloader(cfg.test_dataloader):
            for sample in net.test_step(batch):
                logits.append(sample.step_logits)
                labels.append(int(sample.gt_label))
    return torch.stack(logits, dim=1), np.array(labels)


def test_train_calibration_report(setup):
    config, checkpoint, tmp = setup
    out = tmp / 'out_train'
    result = _tool().main([
        config, checkpoint, '--calib', 'train', '--out',
        str(out), '--device', 'cpu', '--batch-size', '3', '--time-images',
        '7'
    ])
    with open(out / 'adaptive_inference.json') as f:
        saved = json.load(f)
    assert saved == result
    assert (out / 'adaptive_inference.png').stat().st_size > 0
    assert result['calibration'] == dict(
        split='train', images=24, augmentation=True, test_images=20, seed=0)
    assert result['num_steps'] == 3 and result['timed_images'] == 7
    costs = result['step_costs']
    assert costs['authors'] == closed_form_costs(SIZE, CLASSES, 'authors')
    assert costs['mmengine'] == closed_form_costs(SIZE, CLASSES, 'mmengine')

    logits, labels = _reference(config)
    prob = logits.softmax(-1)
    conf, pred = prob.max(-1)[0].numpy(), prob.argmax(-1).numpy()
    for t, row in enumerate(result['anytime']):
        assert row['step'] == t + 1
        assert row['accuracy'] == pytest.approx(
            100 * np.mean(pred[t] == labels))
        assert row['cost_authors'] == costs['authors'][t]
        assert row['ms_per_image'] > 0
    assert len(result['budgeted']) == 39
    for row in result['budgeted']:
        thr = row['thresholds']
        assert thr[-1] == -math.inf
        steps = [  # per image: the first step reaching its threshold
            next((t for t in range(2) if conf[t, i] >= thr[t]), 2)
            for i in range(20)
        ]
        fractions = np.bincount(steps, minlength=3) / 20
        assert row['exit_fractions'] == pytest.approx(fractions.tolist())
        assert row['accuracy'] == pytest.approx(100 * np.mean(
            [pred[t, i] == labels[i] for i, t in enumerate(steps)]))
        for name in ('authors', 'mmengine'):
            assert row[f'cost_{name}'] == pytest.approx(
                sum(f * c for f, c in zip(fractions, costs[name])))
        assert row['ms_per_image'] > 0
    # a higher p sends images out later: the cost does not go down
    sweep = [row['cost_authors'] for row in result['budgeted']]
    assert sweep[0] < sweep[-1]


def test_heldout_calibration(setup):
    config, checkpoint, tmp = setup
    result = _tool().main([
        config, checkpoint, '--calib', 'val-heldout', '--calib-size', '8',
        '--out', str(tmp / 'out_heldout'), '--device', 'cpu',
        '--time-images', '0'
    ])
    assert result['calibration'] == dict(
        split='val-heldout', images=8, augmentation=False, test_images=12,
        seed=0)
    assert result['timed_images'] == 0
    assert 'ms_per_image' not in result['budgeted'][0]
    for row in result['anytime'] + result['budgeted']:
        # 12 evaluated images: accuracies are multiples of 100 / 12
        assert (row['accuracy'] * 12 / 100) == pytest.approx(
            round(row['accuracy'] * 12 / 100))
    assert (tmp / 'out_heldout' / 'adaptive_inference.png').exists()


def test_bad_arguments(setup):
    config, checkpoint, tmp = setup
    tool = _tool()
    with pytest.raises(ValueError, match=r'calib_size must be in \[1, 19\]'):
        tool.main([config, checkpoint, '--calib', 'val-heldout',
                   '--calib-size', '20', '--out', str(tmp / 'bad')])
    with pytest.raises(ValueError, match='--time-images must be >= 0'):
        tool.main([config, checkpoint, '--time-images', '-1', '--out',
                   str(tmp / 'bad')])
    plain = tmp / 'plain.py'
    plain.write_text(
        CONFIG.format(model='ImageClassifier', root=tmp).replace(
            "num_classes=4,\n    data_preprocessor",
            "backbone=dict(type='ResNet', depth=18), "
            "neck=dict(type='GlobalAveragePooling'), "
            "head=dict(type='LinearClsHead', num_classes=4, "
            "in_channels=512),\n    data_preprocessor"))
    with pytest.raises(ValueError, match='does not implement'):
        tool.main([str(plain), checkpoint, '--out', str(tmp / 'bad')])


def test_stored_thresholds(setup):
    """``--calib stored``: a release's thresholds are used as they are (the
    exits recomputed from them per image), and a checkpoint without
    thresholds, or with thresholds for another number of steps, stops
    before any pass with one message."""
    config, checkpoint, tmp = setup
    state = torch.load(checkpoint)
    rng = np.random.default_rng(0)
    stored = np.concatenate(
        [np.sort(rng.uniform(0.3, 1.0, (39, 2)), axis=0)[::-1],
         np.full((39, 1), -np.inf)], axis=1)
    released = tmp / 'released.pth'
    torch.save(dict(state_dict=state['state_dict'],
                    meta=dict(toy=dict(thresholds=stored.tolist()))),
               released)
    result = _tool().main([
        config, str(released), '--calib', 'stored', '--out',
        str(tmp / 'out_stored'), '--device', 'cpu', '--time-images', '0'
    ])
    assert result['calibration']['split'] == 'stored'
    assert result['calibration']['test_images'] == 20
    logits, labels = _reference(config)
    prob = logits.softmax(-1)
    conf, pred = prob.max(-1)[0].numpy(), prob.argmax(-1).numpy()
    for row, thr in zip(result['budgeted'], stored):
        assert row['thresholds'] == thr.tolist()
        steps = [next((t for t in range(2) if conf[t, i] >= thr[t]), 2)
                 for i in range(20)]
        assert row['accuracy'] == pytest.approx(100 * np.mean(
            [pred[t, i] == labels[i] for i, t in enumerate(steps)]))
    with pytest.raises(ValueError, match='no calibrated thresholds'):
        _tool().main([config, checkpoint, '--calib', 'stored', '--out',
                      str(tmp / 'bad')])
    torch.save(dict(state_dict=state['state_dict'],
                    meta=dict(toy=dict(thresholds=stored[:, :2].tolist()))),
               released)
    with pytest.raises(ValueError, match='model.num_steps=3'):
        _tool().main([config, str(released), '--calib', 'stored', '--out',
                      str(tmp / 'bad')])
