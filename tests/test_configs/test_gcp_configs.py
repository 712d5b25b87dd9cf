"""configs/gcp: learning rates per epoch against the authors' formulas
(ZhangLi-CS/GCP_Optimization src/main.py, adjust_learning_rate), the 128-d
models' parameter counts from the authors' layer shapes, and the detection
configs loading a converted GCP checkpoint into their backbone."""
import importlib.util
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS as DET_MODELS
from mmengine.config import Config
from mmengine.registry import PARAM_SCHEDULERS, init_default_scope
from mmpretrain.registry import MODELS as PRETRAIN_MODELS
from torchvision.models import resnet50

import mmext  # noqa: F401

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
GCP = osp.join(REPO, 'configs', 'gcp')


def _epoch_lrs(config: str) -> list:
    """The lr of each training epoch under the config's schedule."""
    cfg = Config.fromfile(osp.join(GCP, config))
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=cfg.optim_wrapper.optimizer.lr)
    specs = cfg.param_scheduler
    specs = specs if isinstance(specs, list) else [specs]
    schedulers = []
    for spec in specs:
        assert spec.get('by_epoch', True) and \
            not spec.get('convert_to_iter_based', False)
        schedulers.append(
            PARAM_SCHEDULERS.build(dict(spec, optimizer=optimizer)))
    lrs = []
    for _ in range(cfg.train_cfg.max_epochs):
        lrs.append(optimizer.param_groups[0]['lr'])
        optimizer.step()
        for scheduler in schedulers:
            scheduler.step()
    return lrs


def _mobilenet_lradju(e: int) -> float:
    if e <= 50:
        return 0.06 - (0.06 - 0.01) / 50 * e
    if e <= 100:
        return 0.01 - (0.01 - 0.001) / 50 * (e - 50)
    return 0.001 - (0.001 - 0.00001) / 50 * (e - 100)


@pytest.mark.parametrize('config,epochs,formula', [
    ('gcp_resnet50_8xb32_lrfast-30e_in1k.py', 30,
     lambda e: 0.1 * (1 - (e - 1) / 52)**11),
    ('gcp_resnet50_8xb32_lradju-50e_in1k.py', 50,
     lambda e: 0.1 * (1 - (e - 1) / 49)**2),
    ('gcp-128d_resnet50_8xb32_lradju-50e_in1k.py', 50,
     lambda e: 0.1 * (1 - (e - 1) / 49)**2),
    ('gcp_mobilenet-v2_4xb24_lrnorm_in1k.py', 90, lambda e: 0.045 * 0.98**e),
    ('gcp_mobilenet-v2_4xb24_lrfast-100e_in1k.py', 100,
     lambda e: 0.06 * 0.92**e),
    ('gcp_mobilenet-v2_8xb24_lradju-150e_in1k.py', 150, _mobilenet_lradju),
])
def test_schedules_match_authors(config, epochs, formula):
    lrs = _epoch_lrs(config)
    assert len(lrs) == epochs
    for e, lr in enumerate(lrs):
        assert lr == pytest.approx(formula(e), rel=1e-9, abs=1e-12), e


@pytest.mark.parametrize('config,end', [
    ('gcp_shufflenet-v2-1x_16xb64_lrfast-60e_in1k.py', 60),
    ('gcp_shufflenet-v2-1x_16xb64_lradju-100e_in1k.py', 100),
])
def test_shufflenet_linear_decay_length(config, end):
    # main_shufflenet.py: lr = 0.5 (1 - t / T) over all T iterations of
    # 60 (LRfast) or 100 (LRadju) epochs.
    cfg = Config.fromfile(osp.join(GCP, config))
    assert cfg.train_cfg.max_epochs == end
    assert cfg.param_scheduler.end == end
    assert cfg.param_scheduler.power == 1.0
    assert cfg.optim_wrapper.optimizer.lr == 0.5


@pytest.mark.parametrize('config,params', [
    # torchvision ResNet-50 without fc (23,508,032) + Conv 2048 -> 128
    # (no bias) + BN(128) + Linear(8256, 1000)
    ('gcp-128d_resnet50_8xb32_lrnorm-100e_in1k.py',
     23_508_032 + 2048 * 128 + 2 * 128 + 8256 * 1000 + 1000),
    # torchvision MobileNetV2 features (2,223,872) + Conv 1280 -> 128 +
    # BN(128) + Linear(8256, 1000)
    ('gcp-128d_mobilenet-v2_4xb24_lrnorm_in1k.py',
     2_223_872 + 1280 * 128 + 2 * 128 + 8256 * 1000 + 1000),
])
def test_128d_param_counts(config, params):
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(osp.join(GCP, config))
    model = PRETRAIN_MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) == params


def _load_converter():
    path = osp.join(REPO, 'tools', 'model_converters', 'isqrt_cov2mmext.py')
    spec = importlib.util.spec_from_file_location('isqrt_cov2mmext', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_detection_backbone_loads_converted_gcp_checkpoint(tmp_path):
    """An authors'-layout GCP ResNet-50 (torchvision names, layer_reduce,
    fc, DataParallel prefix), converted, initialises the Faster R-CNN
    backbone: every backbone tensor equals the authors' one."""
    torch.manual_seed(0)
    net = resnet50()
    authors = {k: v for k, v in net.state_dict().items()
               if not k.startswith('fc.')}
    authors.update({
        'layer_reduce.weight': torch.randn(256, 2048, 1, 1),
        'layer_reduce_bn.weight': torch.rand(256),
        'layer_reduce_bn.bias': torch.rand(256),
        'layer_reduce_bn.running_mean': torch.rand(256),
        'layer_reduce_bn.running_var': torch.rand(256),
        'layer_reduce_bn.num_batches_tracked': torch.tensor(7),
        'fc.weight': torch.randn(10, 32896),
        'fc.bias': torch.randn(10),
    })
    for k, v in authors.items():
        if v.is_floating_point():
            v.uniform_(-1, 1)  # distinguishable from any initialisation
    src = tmp_path / 'ResNet50_GCP_LRnorm.pth.tar'
    torch.save({'epoch': 100, 'state_dict': {'module.' + k: v
                                             for k, v in authors.items()}},
               str(src))
    ckpt = tmp_path / 'gcp_resnet50.pth'
    _load_converter().convert(str(src), str(ckpt))

    cfg = Config.fromfile(
        osp.join(GCP, 'faster-rcnn_gcp-r50-fpn_8xb2_1x_coco.py'))
    assert cfg.model.backbone.init_cfg.prefix == 'backbone.'
    cfg.model.backbone.init_cfg.checkpoint = str(ckpt)
    init_default_scope('mmdet')
    detector = DET_MODELS.build(cfg.model)
    detector.backbone.init_weights()
    got = detector.backbone.state_dict()
    for key, value in authors.items():
        if key.startswith(('layer_reduce', 'fc.')):
            continue
        assert torch.equal(got[key], value), key
    # layer4 at stride 2: FPN's strides 4-32
    feats = detector.backbone(torch.randn(1, 3, 64, 64))
    assert [f.shape[-1] for f in feats] == [16, 8, 4, 2]
