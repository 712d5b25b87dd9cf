"""mmext.utils.benchmark and tools/analysis_tools/benchmark.py.

Counts are checked against independent computations; timings are only
required to exist and be positive (they depend on the machine's load).
"""
import importlib.util
import json
import os.path as osp

import pytest
import torch
from torch import nn

from mmext.utils import benchmark as bm

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

RESNET18_CLS = """
default_scope = 'mmpretrain'
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet', depth=18, num_stages=4, out_indices=(3, ),
                  style='pytorch'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=512,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
              topk=(1, )))
data_preprocessor = dict(num_classes=10, mean=[127.5] * 3, std=[127.5] * 3,
                         to_rgb=True)
"""

TSN_R18 = """
default_scope = 'mmaction'
model = dict(
    type='Recognizer2D',
    backbone=dict(type='ResNet', depth=18, pretrained=None, norm_eval=False),
    cls_head=dict(type='TSNHead', num_classes=4, in_channels=512,
                  spatial_type='avg',
                  consensus=dict(type='AvgConsensus', dim=1),
                  dropout_ratio=0.4, init_std=0.01, average_clips='prob'),
    data_preprocessor=dict(type='ActionDataPreprocessor', mean=[127.5] * 3,
                           std=[127.5] * 3, format_shape='NCHW'))
"""

PROTO_R18 = """
default_scope = 'mmpretrain'
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
model = dict(
    type='EpisodicClassifier',
    backbone=dict(type='ResNet', depth=18, num_stages=4, out_indices=(3, ),
                  style='pytorch'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='PrototypeHead'))
"""

FRCNN_R18 = """
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
model = dict(
    backbone=dict(depth=18, init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512]),
    roi_head=dict(bbox_head=dict(num_classes=3)),
    train_cfg=dict(rpn_proposal=dict(nms_pre=200, max_per_img=64)),
    test_cfg=dict(rpn=dict(nms_pre=200, max_per_img=32)))
"""


@pytest.fixture(autouse=True)
def one_thread():
    # Two BLAS threads next to other jobs on a 2-core machine are ~10x
    # slower than one; none of these checks depend on the thread count.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _torchvision_resnet18(num_classes=None):
    import torchvision
    model = torchvision.models.resnet18(num_classes=num_classes or 1000)
    if num_classes is None:
        model.fc = nn.Identity()
    return model


# ------------------------------------------------------------ parameters
def test_param_count_resnet18_classifier(tmp_path):
    cfg = bm.load_config(_write(tmp_path, 'r18.py', RESNET18_CLS))
    model = bm.build_model(cfg)
    counts = bm.count_parameters(model)
    assert counts['params'] == sum(p.numel() for p in model.parameters())
    # Independently: torchvision's ResNet-18 with a 10-way fc has the same
    # layers (the data preprocessor holds only buffers).
    reference = sum(p.numel()
                    for p in _torchvision_resnet18(10).parameters())
    assert counts['params'] == reference == 11_181_642
    assert counts['trainable_params'] == counts['params']

    model.backbone.conv1.weight.requires_grad_(False)
    assert bm.count_parameters(model)['trainable_params'] == (
        reference - 64 * 3 * 7 * 7)


# ----------------------------------------------------------------- FLOPs
@pytest.mark.parametrize('k,cin,cout,hw,stride,pad', [
    (3, 3, 8, 16, 1, 1),
    (1, 4, 6, 10, 1, 0),
    (5, 2, 3, 12, 2, 2),
])
def test_flops_conv2d_closed_form(k, cin, cout, hw, stride, pad):
    conv = nn.Conv2d(cin, cout, k, stride=stride, padding=pad)
    out = (hw + 2 * pad - k) // stride + 1
    res = bm.measure_flops(conv, (cin, hw, hw))
    assert bm.model_kind(conv) == 'module'
    assert res['flops'] == k * k * cin * cout * out * out
    assert res['input_shape'] == [1, cin, hw, hw]


def test_flops_linear_closed_form():
    assert bm.measure_flops(nn.Linear(20, 7), (20, ))['flops'] == 20 * 7


def test_flops_classifier_is_backbone_neck_head(tmp_path):
    """The classifier's 'tensor' forward covers backbone, neck and head:
    the same multiply-adds as torchvision's ResNet-18 with its fc."""
    model = bm.build_model(bm.load_config(_write(tmp_path, 'r18.py',
                                                 RESNET18_CLS)))
    res = bm.measure_flops(model, (3, 32, 32))
    reference = bm.measure_flops(_torchvision_resnet18(10), (3, 32, 32))
    assert res['flops'] == reference['flops'] > 0
    assert res['input_shape'] == [1, 3, 32, 32]


def test_flops_recognizer2d_segments(tmp_path):
    """TSN: the backbone once per segment, the fc once per clip."""
    model = bm.build_model(bm.load_config(_write(tmp_path, 'tsn.py',
                                                 TSN_R18)))
    assert bm.model_kind(model) == 'recognizer2d'
    res = bm.measure_flops(model, (2, 3, 32, 32))
    backbone = bm.measure_flops(_torchvision_resnet18(), (3, 32, 32))
    assert res['flops'] == 2 * backbone['flops'] + 512 * 4
    assert res['input_shape'] == [1, 2, 3, 32, 32]
    # (C, H, W) means the default number of segments.
    batch = bm.make_synthetic_batch(model, (3, 32, 32), batch_size=1)
    assert batch['inputs'][0].shape == (8, 3, 32, 32)


def test_episodic_classifier_features_and_episode_step(tmp_path):
    """Few-shot models: FLOPs of the episode features (a ResNet-18 without
    fc), and a training step on one synthetic episode."""
    model = bm.build_model(bm.load_config(_write(tmp_path, 'proto.py',
                                                 PROTO_R18)))
    assert bm.model_kind(model) == 'episodic'
    res = bm.measure_flops(model, (3, 32, 32))
    assert res['flops'] == bm.measure_flops(_torchvision_resnet18(),
                                            (3, 32, 32))['flops']
    batch = bm.make_synthetic_batch(model, (3, 32, 32), batch_size=4)
    support = [s.metainfo['episode_support'] for s in batch['data_samples']]
    labels = [int(s.gt_label) for s in batch['data_samples']]
    assert support == [True, False, True, False] and labels == [0, 0, 1, 1]
    out = bm.measure_train_throughput(model, (3, 32, 32), batch_size=4,
                                      iters=1, warmup=0)
    assert out['loss'] == out['loss'] and out['throughput'] > 0


# ---------------------------------------------------------- kinds, errors
def test_unsupported_model_type_is_rejected():
    from mmengine.model import BaseModel

    class Other(BaseModel):

        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, inputs, data_samples=None, mode='tensor'):
            return self.fc(inputs)

    with pytest.raises(TypeError, match='supported: mmpretrain'):
        bm.model_kind(Other())
    with pytest.raises(TypeError, match='Other'):
        bm.benchmark_model(Other(), (2, ))


def test_bad_input_shape_and_device(tmp_path):
    cfg_path = _write(tmp_path, 'r18.py', RESNET18_CLS)
    model = bm.build_model(bm.load_config(cfg_path))
    with pytest.raises(ValueError, match='3 dims'):
        bm.measure_flops(model, (32, 32))
    with pytest.raises(ValueError, match='device'):
        bm.benchmark_config(cfg_path, device='tpu')


# ------------------------------------------------------------ detector
def test_detector_flops_and_train_step(tmp_path):
    cfg = bm.load_config(_write(tmp_path, 'frcnn.py', FRCNN_R18))
    model = bm.build_model(cfg)
    assert bm.model_kind(model) == 'detector'
    res = bm.measure_flops(model, (3, 60, 80))
    # Padded to the data preprocessor's size divisor (32).
    assert res['input_shape'] == [1, 3, 64, 96]
    backbone = bm.measure_flops(_torchvision_resnet18(), (3, 64, 96))
    assert res['flops'] > backbone['flops']
    train = bm.measure_train_throughput(
        model, (3, 60, 80), batch_size=1, iters=1, warmup=0)
    assert train['throughput'] > 0 and train['throughput_unit'] == 'images/s'
    assert torch.isfinite(torch.tensor(train['loss']))


def test_cfg_options_and_custom_imports(tmp_path):
    text = RESNET18_CLS + "\ncustom_imports = dict(imports=['mmext'])\n"
    cfg = bm.load_config(
        _write(tmp_path, 'r18.py', text),
        cfg_options={'model.head.num_classes': 3})
    model = bm.build_model(cfg)
    assert model.head.fc.out_features == 3


# ------------------------------------------------------------------ CLI
def _cli():
    path = osp.join(REPO, 'tools', 'analysis_tools', 'benchmark.py')
    spec = importlib.util.spec_from_file_location('benchmark_cli', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_writes_json(tmp_path, capsys):
    cfg_path = _write(tmp_path, 'r18.py', RESNET18_CLS)
    out = tmp_path / 'sub' / 'bench.json'
    result = _cli().main([
        cfg_path, '--input-shape', '3', '32', '32', '--iters', '2',
        '--warmup', '1', '--batch-size', '2', '--json',
        str(out), '--cfg-options', 'model.head.num_classes=5'
    ])
    printed = capsys.readouterr().out
    assert 'FLOPs' in printed and 'train throughput' in printed
    with open(out) as f:
        data = json.load(f)
    assert data == json.loads(json.dumps(result))
    for key in ('config', 'model_type', 'kind', 'device', 'input_shape',
                'batch_size', 'params', 'trainable_params', 'flops',
                'flops_str', 'flops_input_shape', 'latency_ms_mean',
                'latency_ms_std', 'iters', 'warmup', 'train_step_ms_mean',
                'train_step_ms_std', 'throughput', 'throughput_unit',
                'train_loss'):
        assert key in data, key
    assert data['model_type'] == 'ImageClassifier'
    assert data['kind'] == 'classifier' and data['device'] == 'cpu'
    assert data['input_shape'] == [3, 32, 32] and data['batch_size'] == 2
    # 5-way head: 11,181,642 - 512 * 5 - 5.
    assert data['params'] == 11_181_642 - 512 * 5 - 5
    assert data['latency_ms_mean'] > 0 and data['throughput'] > 0


def test_cli_no_train(tmp_path, capsys):
    cfg_path = _write(tmp_path, 'r18.py', RESNET18_CLS)
    result = _cli().main([
        cfg_path, '--input-shape', '3', '32', '32', '--iters', '1',
        '--warmup', '0', '--no-train'
    ])
    assert 'throughput' not in result and result['flops'] > 0
    assert 'train throughput' not in capsys.readouterr().out
