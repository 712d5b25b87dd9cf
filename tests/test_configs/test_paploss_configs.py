"""configs/paploss: every loss of a detector is evaluated the same way
(score 0.05, the same NMS), each protocol has its schedule, the PAP models
use the authors' presets, and the 512 x 512 protocol's augmentation (which
the smoke test does not run: it shares the 1x model's run) loads smoke
COCO images."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmext  # noqa: F401
from mmext.testing import shrink_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'paploss', '*.py')))


def load(path):
    return Config.fromfile(path)


def test_twelve_configs():
    names = {osp.basename(p)[:-3] for p in CONFIGS}
    for det, losses in (('retinanet', ('focal-l1', 'focal-giou', 'paploss')),
                        ('faster-rcnn', ('ce-l1', 'ce-giou', 'paploss'))):
        for loss in losses:
            for proto in ('1x_coco', '8xb8-100e_coco-512'):
                assert f'{det}_r50_fpn_{loss}_{proto}' in names


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_evaluation_and_schedule(path):
    cfg = load(path)
    pap = 'paploss' in osp.basename(path)
    test_cfg = cfg.model.test_cfg
    test_cfg = test_cfg.get('rcnn', test_cfg)
    assert test_cfg.score_thr == 0.05
    assert test_cfg.nms.iou_threshold == 0.5
    lr = cfg.optim_wrapper.optimizer.lr
    retina = cfg.model.type == 'RetinaNet'
    if '100e' in path:
        assert cfg.train_cfg.max_epochs == 100
        assert cfg.train_dataloader.batch_size == 8
        milestones = cfg.param_scheduler[1].milestones
        assert milestones == ([60, 80] if retina else [75, 95])
        expected = 0.016 if retina else (0.024 if pap else 0.04)
    else:
        assert cfg.train_cfg.max_epochs == 12
        expected = 0.01 if retina else (0.012 if pap else 0.02)
    assert lr == expected
    if retina:
        assert cfg.model.bbox_head.anchor_generator.scales_per_octave == 2
    if pap:
        losses = [cfg.model.bbox_head.loss_cls] if retina else [
            cfg.model.rpn_head.loss_cls, cfg.model.roi_head.bbox_head.loss_cls
        ]
        assert [loss.preset for loss in losses] == (
            ['retinanet'] if retina else ['rpn', 'rcnn'])


def test_512_protocol_pipeline_loads_smoke_images(smoke_data, tmp_path):
    from mmdet.registry import DATASETS
    cfg = load(osp.join(REPO, 'configs', 'paploss',
                        'retinanet_r50_fpn_paploss_8xb8-100e_coco-512.py'))
    cfg = shrink_config(cfg, smoke_data, str(tmp_path))
    init_default_scope('mmdet')
    train = DATASETS.build(cfg.train_dataloader.dataset)
    side = cfg.train_dataloader.dataset.pipeline[5].scale[0]
    types = [t.type for t in cfg.train_dataloader.dataset.pipeline]
    assert {'PhotoMetricDistortion', 'Expand', 'MinIoURandomCrop'} <= set(
        types)
    for i in range(len(train)):
        assert train[i]['inputs'].shape[1:] == (side, side)
    val = DATASETS.build(cfg.val_dataloader.dataset)
    assert val[0]['inputs'].shape[0] == 3
