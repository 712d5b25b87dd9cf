"""MLKP configs: the faithful models have exactly the parameter counts of
the authors' prototxts (BN running statistics excluded, Caffe's Scale
counted as the BN affine), and the solver applies Caffe's per-layer
learning-rate multipliers."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

import mmext  # noqa: F401

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MLKP = osp.join(REPO, 'configs', 'mlkp')

#: config -> (whole detector, MLKP-specific layers, trainable)
COUNTS = {
    'mlkp-faithful_faster-rcnn_vgg16_1xb1-80k_voc0712.py':
    (149_400_553, 12_322_314, 149_140_393),
    'mlkp-faithful_faster-rcnn_r101-caffe-c4_1xb1-80k_voc0712.py':
    (63_454_185, 15_992_074, 63_126_441),
    'mlkp-faithful_faster-rcnn_vgg16_8xb2-1x_coco.py':
    (150_629_653, 12_322_314, None),
    'mlkp-faithful_faster-rcnn_r101-caffe-c4_8xb2-1x_coco.py':
    (64_068_885, 15_992_074, None),
}


def _build(name: str):
    from mmdet.registry import MODELS
    cfg = Config.fromfile(osp.join(MLKP, name))
    with DefaultScope.overwrite_default_scope('mmdet'):
        return cfg, MODELS.build(cfg.model)


@pytest.mark.parametrize('name', sorted(COUNTS))
def test_parameter_counts(name):
    total, mlkp, trainable = COUNTS[name]
    cfg, model = _build(name)
    assert cfg.model.neck.mode == 'faithful'
    assert sum(p.numel() for p in model.parameters()) == total
    assert sum(p.numel() for p in model.neck.parameters()) == mlkp
    if trainable is not None:  # conv1-2 / conv1 + res2 and BN frozen
        assert sum(p.numel() for p in model.parameters()
                   if p.requires_grad) == trainable


def test_fixed_and_faithful_modes_have_the_same_parameters():
    for arch in ('vgg16', 'r101-caffe-c4'):
        a = Config.fromfile(
            osp.join(MLKP, f'mlkp_faster-rcnn_{arch}_1xb1-80k_voc0712.py'))
        b = Config.fromfile(
            osp.join(MLKP,
                     f'mlkp-faithful_faster-rcnn_{arch}_1xb1-80k_voc0712.py'))
        assert a.model.neck.mode == 'fixed'
        a.model.neck.mode = 'faithful'
        assert a.model == b.model


def test_caffe_learning_rate_multipliers():
    from mmengine.optim import build_optim_wrapper
    cfg, model = _build(
        'mlkp-faithful_faster-rcnn_vgg16_1xb1-80k_voc0712.py')
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    lr = {}
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            lr[id(p)] = (group['lr'], group['weight_decay'])
    named = dict(model.named_parameters())
    base = 0.001
    assert lr[id(named['neck.shallow_conv.weight'])][0] == pytest.approx(
        5 * base)
    assert lr[id(named['neck.deep_conv.weight'])][0] == pytest.approx(2 *
                                                                      base)
    assert lr[id(named['neck.deep_up.weight'])][0] == pytest.approx(2 * base)
    assert lr[id(named['neck.out_conv.bias'])] == pytest.approx((2 * base, 0))
    assert lr[id(named['neck.out_conv.weight'])] == pytest.approx(
        (base, 5e-4))
    assert cfg.optim_wrapper.accumulative_counts == 2
    assert cfg.train_dataloader.batch_size == 1
    assert cfg.train_cfg.max_iters == 80000
