"""DetKDDistiller: RoI-level distillation of mmdet detectors on the
student's RoIs, frozen teachers, student export."""
import copy
import importlib.util
import math
import os.path as osp
from functools import lru_cache

import pytest
import torch
import torch.nn.functional as F
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config, ConfigDict
from mmengine.hub import get_config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import save_checkpoint
from torchvision.ops import box_iou, roi_align

import mmext  # noqa: F401
from mmext.models.distillers import (MethodCallRecorder,
                                     extract_student_state_dict,
                                     load_model_cfg)
from mmext.models.losses import WKDFeatureLoss, WKDLogitLoss
from mmext.registry import MODELS
from mmext.testing import shrink_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
NUM_CLASSES = 3
ROI_CHANNELS = 16


@lru_cache()
def _faster_rcnn_base() -> dict:
    return get_config(
        'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py').model.to_dict()


def tiny_faster_rcnn(width: int) -> ConfigDict:
    """A Faster R-CNN R18-FPN of stem width ``width`` with small heads
    (a ConfigDict: mmdet reads ``train_cfg.rpn`` as attributes)."""
    m = copy.deepcopy(_faster_rcnn_base())
    m['backbone'].update(depth=18, base_channels=width, init_cfg=None)
    m['neck'].update(in_channels=[width * 2**i for i in range(4)],
                     out_channels=ROI_CHANNELS)
    m['rpn_head'].update(in_channels=ROI_CHANNELS, feat_channels=ROI_CHANNELS)
    m['roi_head']['bbox_roi_extractor'].update(out_channels=ROI_CHANNELS)
    m['roi_head']['bbox_head'].update(in_channels=ROI_CHANNELS,
                                      fc_out_channels=32,
                                      num_classes=NUM_CLASSES)
    m['train_cfg']['rpn_proposal'].update(nms_pre=200, max_per_img=100)
    m['train_cfg']['rcnn']['sampler'].update(num=64)
    m['test_cfg']['rpn'].update(nms_pre=100, max_per_img=50)
    return ConfigDict(m)


def distiller_cfg(teacher_ckpt=None, **overrides):
    cfg = dict(type='DetKDDistiller',
               student=tiny_faster_rcnn(8),
               teachers=dict(teacher=dict(model=tiny_faster_rcnn(16),
                                          teacher_ckpt=teacher_ckpt)),
               recorders=dict(
                   student=dict(logits='roi_head.bbox_head.fc_cls',
                                roi_feats='roi_head.bbox_roi_extractor'),
                   teacher=dict(logits='roi_head.bbox_head.fc_cls',
                                roi_feats='roi_head.bbox_roi_extractor')),
               connectors=dict(proj=dict(type='ConvConnector',
                                         in_channels=ROI_CHANNELS,
                                         out_channels=ROI_CHANNELS)),
               distill_losses=dict(loss_kd=dict(type='KDLoss', tau=2.0),
                                   loss_wkd_l=dict(type='WKDLogitLoss',
                                                   temperature=2.0,
                                                   gamma=3.0),
                                   loss_wkd_f=dict(type='WKDFeatureLoss',
                                                   loss_weight=0.5)),
               loss_inputs=dict(loss_kd=dict(preds_S='student.logits',
                                             preds_T='teacher.logits'),
                                loss_wkd_l=dict(preds_S='student.logits',
                                                preds_T='teacher.logits',
                                                gt_label='gt_label'),
                                loss_wkd_f=dict(feats_S=dict(
                                    source='student.roi_feats',
                                    connector='proj'),
                                                feats_T='teacher.roi_feats')))
    cfg.update(overrides)
    return cfg


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    init_default_scope('mmdet')
    torch.manual_seed(0)
    teacher = MODELS.build(tiny_faster_rcnn(16))
    teacher.init_weights()
    for m in teacher.modules():  # non-trivial BN statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2)
    with torch.no_grad():  # spread-out class scores
        teacher.roi_head.bbox_head.fc_cls.weight.mul_(100)
    path = str(tmp_path_factory.mktemp('teacher') / 'teacher.pth')
    save_checkpoint({'state_dict': teacher.state_dict()}, path)
    return path, copy.deepcopy(teacher.state_dict())


def batch(model, seed=0):
    torch.manual_seed(seed)
    packed = demo_mm_inputs(2, [[3, 160, 224], [3, 160, 224]],
                            num_items=[3, 2],
                            num_classes=NUM_CLASSES)
    return model.data_preprocessor(packed, True)


def build(teacher_ckpt, **overrides):
    init_default_scope('mmdet')
    cfg = distiller_cfg(teacher_ckpt, **overrides)
    if 'loss_wkd_l' not in cfg['distill_losses']:
        return MODELS.build(cfg)
    with pytest.warns(UserWarning, match='no cost_matrix_file'):
        return MODELS.build(cfg)


def manual_roi_forward(detector, feats, rois):
    """RoIAlign + shared FCs + classifier, one RoI at a time: the level by
    mmdet's rule ``floor(log2(sqrt(area) / 56))`` in ``[0, 3]``, torchvision's
    aligned RoIAlign (adaptive sampling) at that level's stride."""
    head = detector.roi_head.bbox_head
    roi_feats, logits = [], []
    for roi in rois:
        b = int(roi[0])
        x1, y1, x2, y2 = roi[1:].tolist()
        level = math.floor(
            math.log2(math.sqrt((x2 - x1) * (y2 - y1)) / 56 + 1e-6))
        level = min(max(level, 0), 3)
        f = roi_align(feats[level][b:b + 1], [roi[None, 1:]],
                      7,
                      spatial_scale=1 / 2**(level + 2),
                      sampling_ratio=0,
                      aligned=True)
        h = f.flatten(1)
        for fc in head.shared_fcs:
            h = F.relu(fc(h))
        roi_feats.append(f[0])
        logits.append(head.fc_cls(h)[0])
    return torch.stack(roi_feats), torch.stack(logits)


def manual_labels(rois, data_samples):
    """The rcnn assigner's rule: the label of the max-IoU ground truth when
    IoU >= 0.5, else background (``NUM_CLASSES``)."""
    labels = torch.full((len(rois), ), NUM_CLASSES, dtype=torch.long)
    for b, ds in enumerate(data_samples):
        idx = (rois[:, 0] == b).nonzero()[:, 0]
        iou = box_iou(rois[idx, 1:], ds.gt_instances.bboxes)
        best, arg = iou.max(1)
        pos = best >= 0.5
        labels[idx[pos]] = ds.gt_instances.labels[arg[pos]]
    return labels


def test_teacher_box_head_runs_on_student_rois(teacher_ckpt):
    model = build(teacher_ckpt[0])
    data = batch(model)
    losses = model(**data, mode='loss')
    assert {
        'loss_cls', 'loss_bbox', 'loss_rpn_cls', 'loss_kd', 'loss_wkd_l',
        'loss_wkd_f'
    } <= set(losses)

    rois, labels = model.student_rois()
    num = rois.shape[0]
    assert rois.shape == (num, 5) and labels.shape == (num, )
    assert set(rois[:, 0].tolist()) == {0., 1.}
    assert 64 < num <= 128  # <= 64 sampled RoIs per image
    s_rec, t_rec = model.recorders['student'], model.recorders['teacher']
    assert s_rec.get('roi_feats').shape == (num, ROI_CHANNELS, 7, 7)
    assert t_rec.get('roi_feats').shape == (num, ROI_CHANNELS, 7, 7)
    assert s_rec.get('logits').shape == (num, NUM_CLASSES + 1)
    assert t_rec.get('logits').shape == (num, NUM_CLASSES + 1)
    # the teacher saw the student's RoIs, not its own proposals
    teacher = model.teachers['teacher']
    with torch.no_grad():
        feats = teacher.extract_feat(data['inputs'])
        ref_feats, ref_logits = manual_roi_forward(teacher, feats, rois)
    torch.testing.assert_close(t_rec.get('roi_feats'),
                               ref_feats,
                               rtol=1e-4,
                               atol=1e-5)
    torch.testing.assert_close(t_rec.get('logits'),
                               ref_logits,
                               rtol=1e-4,
                               atol=1e-4)
    # the student's records are of the same RoIs
    with torch.no_grad():
        s_feats = model.student.extract_feat(data['inputs'])
        ref_s_feats, _ = manual_roi_forward(model.student, s_feats, rois)
    torch.testing.assert_close(s_rec.get('roi_feats').detach(),
                               ref_s_feats,
                               rtol=1e-4,
                               atol=1e-5)
    # 'gt_label' is the labels the student's assigner gave these RoIs
    ref_labels = manual_labels(rois, data['data_samples'])
    assert torch.equal(labels, ref_labels)
    assert (labels < NUM_CLASSES).any() and (labels == NUM_CLASSES).any()

    # the losses equal independent computations from the hand-made teacher
    s_logits = s_rec.get('logits').detach()
    p_t = F.softmax(ref_logits / 2, 1)
    kd = 4 * (p_t * (p_t.log() - F.log_softmax(s_logits / 2, 1))).sum(1)
    torch.testing.assert_close(losses['loss_kd'].detach(),
                               kd.mean(),
                               rtol=1e-4,
                               atol=1e-6)
    with pytest.warns(UserWarning):
        wkd_l = WKDLogitLoss(temperature=2.0, gamma=3.0)
    torch.testing.assert_close(losses['loss_wkd_l'].detach(),
                               wkd_l(s_logits, ref_logits, ref_labels),
                               rtol=1e-4,
                               atol=1e-6)
    with torch.no_grad():  # train-mode BN: batch statistics, same output
        proj = model.connectors['proj'](s_rec.get('roi_feats'))
    torch.testing.assert_close(losses['loss_wkd_f'].detach(),
                               WKDFeatureLoss(loss_weight=0.5)(proj,
                                                               ref_feats),
                               rtol=1e-4,
                               atol=1e-6)


def test_teacher_frozen_eval_and_untouched(teacher_ckpt):
    path, ref = teacher_ckpt
    model = build(path)
    model.init_weights()
    teacher = model.teachers['teacher']
    model.train()
    assert model.student.training
    assert not any(m.training for m in teacher.modules())
    assert not any(p.requires_grad for p in teacher.parameters())
    optim = build_optim_wrapper(
        model, dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)))
    student_before = copy.deepcopy(model.student.state_dict())
    model.train_step(batch(model), optim)
    for k, v in teacher.state_dict().items():  # weights and BN buffers
        torch.testing.assert_close(v, ref[k], rtol=0, atol=0)
    assert not model.recorders['teacher'].get('logits').requires_grad
    assert model.recorders['student'].get('logits').requires_grad
    assert not teacher.training
    changed = [
        k for k, v in model.student.state_dict().items()
        if not torch.equal(v, student_before[k])
    ]
    assert any(k.startswith('roi_head.bbox_head.fc_cls') for k in changed)
    # the recorder's wrapper is gone after the step
    assert 'loss_and_target' not in vars(model.student.roi_head.bbox_head)


def test_predict_runs_the_student_alone(teacher_ckpt):
    model = build(teacher_ckpt[0])
    model.eval()
    data = batch(model)
    with torch.no_grad():
        preds = model(**data, mode='predict')
        ref = model.student(**data, mode='predict')
    assert len(preds) == 2
    for p, r in zip(preds, ref):
        torch.testing.assert_close(p.pred_instances.bboxes,
                                   r.pred_instances.bboxes)


def test_without_shared_rois_teachers_run_their_own_forward(teacher_ckpt):
    model = build(
        teacher_ckpt[0],
        share_rois=False,
        recorders=dict(student=dict(fpn='neck'), teacher=dict(fpn='neck')),
        connectors=None,
        distill_losses=dict(loss_mse=dict(type='mmdet.MSELoss')),
        loss_inputs=dict(
            loss_mse=dict(pred='student.fpn.0', target='teacher.fpn.0')))
    data = batch(model)
    losses = model(**data, mode='loss')
    with torch.no_grad():
        ref = model.teachers['teacher'].extract_feat(data['inputs'])
    torch.testing.assert_close(model.recorders['teacher'].get('fpn')[0],
                               ref[0])
    s_fpn = model.recorders['student'].get('fpn')[0].detach()
    torch.testing.assert_close(losses['loss_mse'].detach(),
                               ((s_fpn - ref[0])**2).mean())
    cfg = distiller_cfg(None)
    bad = build(
        teacher_ckpt[0],
        share_rois=False,
        distill_losses=dict(loss_wkd_l=cfg['distill_losses']['loss_wkd_l']),
        loss_inputs=dict(loss_wkd_l=cfg['loss_inputs']['loss_wkd_l']))
    with pytest.raises(KeyError, match='share_rois=True'):
        bad(**batch(bad), mode='loss')


def test_share_rois_needs_two_stage_detectors():
    init_default_scope('mmdet')
    classifier = dict(
        type='mmpretrain.ImageClassifier',
        backbone=dict(type='mmpretrain.ResNet', depth=18),
        neck=dict(type='mmpretrain.GlobalAveragePooling'),
        head=dict(type='mmpretrain.LinearClsHead',
                  num_classes=3,
                  in_channels=512),
        data_preprocessor=dict(type='mmpretrain.ClsDataPreprocessor'))
    cfg = distiller_cfg(None,
                        teachers=dict(teacher=dict(model=classifier)),
                        recorders=dict(student=dict(x='backbone')),
                        distill_losses={},
                        loss_inputs={})
    with pytest.warns(UserWarning), pytest.raises(TypeError, match='teacher'):
        MODELS.build(cfg)


def test_method_recorder():
    lin = torch.nn.Linear(2, 2)
    lin.scaled = lambda x, k=2: k * x  # an instance attribute to restore
    net = torch.nn.Sequential(lin)
    with pytest.raises(KeyError, match="'1'"):
        MethodCallRecorder(net, dict(a='1.extra_repr'))
    with pytest.raises(KeyError, match="no method 'nope'"):
        MethodCallRecorder(net, dict(a='0.nope'))
    rec = MethodCallRecorder(net, dict(r='0.extra_repr', s='0.scaled'))
    with pytest.raises(RuntimeError, match='captured nothing'):
        rec.get('r')
    with rec:
        lin.extra_repr()
        lin.scaled(3)
        lin.scaled(x=4, k=5)
    assert rec.get('r').output == lin.extra_repr()
    assert rec.get('s', 0) == ({'x': 3, 'k': 2}, 6)
    assert rec.get('s') == ({'x': 4, 'k': 5}, 20)
    assert 'extra_repr' not in vars(lin)  # the class method is back
    assert lin.scaled(1) == 2 and lin.scaled is vars(lin)['scaled']
    lin.extra_repr()
    with pytest.raises(IndexError):  # not recorded after stop
        rec.get('r', 1)


def load_script(path):
    spec = importlib.util.spec_from_file_location('script', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_student_export_loads_into_plain_config(tmp_path):
    """The student of the R101 -> R18 KD config, stripped by
    ``strip_teacher.py``, loads strictly into the plain R18 Faster R-CNN
    config."""
    init_default_scope('mmdet')
    kd_cfg = shrink_config(
        Config.fromfile(
            osp.join(
                REPO,
                'configs/kd/kd_faster-rcnn_r101-r18-fpn_8xb2_1x_coco.py')),
        str(tmp_path), str(tmp_path))
    teacher = load_model_cfg(kd_cfg.model.teachers.teacher)
    assert teacher['type'] == 'FasterRCNN'
    assert teacher['backbone']['depth'] == 101
    assert teacher['teacher_ckpt'] is None  # dropped by the smoke config
    # a small teacher keeps the test fast; the student is the config's
    kd_cfg.model.teachers.teacher = dict(model=tiny_faster_rcnn(16))
    with pytest.warns(UserWarning, match='no teacher_ckpt'):
        model = MODELS.build(kd_cfg.model)
    assert type(model).__name__ == 'DetKDDistiller'
    plain_cfg = shrink_config(
        Config.fromfile(
            osp.join(REPO, 'configs/kd/faster-rcnn_r18-fpn_8xb2_1x_coco.py')),
        str(tmp_path), str(tmp_path))
    plain = MODELS.build(plain_cfg.model)
    assert extract_student_state_dict(model.state_dict()).keys() == \
        plain.state_dict().keys()
    src, dst = str(tmp_path / 'train.pth'), str(tmp_path / 'student.pth')
    save_checkpoint({'state_dict': model.state_dict()}, src)
    tool = load_script(
        osp.join(REPO, 'tools', 'model_converters', 'strip_teacher.py'))
    assert tool.main([src, dst]) == 0
    state = torch.load(dst, weights_only=False)['state_dict']
    plain.load_state_dict(state, strict=True)
    for k, v in plain.state_dict().items():
        torch.testing.assert_close(v,
                                   model.student.state_dict()[k],
                                   rtol=0,
                                   atol=0)
