"""PAPShared2FCBBoxHead: its ranking equals PAPLoss with qualities from a
per-RoI loop, the gradient scale multiplies exactly the regression layer's
gradient, prediction uses sigmoid scores; a Faster R-CNN with PAP RPN and
box heads trains a step and predicts."""
import copy

import pytest
import torch
from mmdet.testing import demo_mm_inputs
from mmengine.config import ConfigDict
from mmengine.hub import get_config
from mmengine.registry import init_default_scope

import mmext  # noqa: F401
from mmext.models.losses import PAPLoss
from mmext.models.losses.parameterized_ap_loss import localization_quality
from mmext.registry import MODELS

NUM_CLASSES = 3


def head_cfg(grad_scale=None, **kwargs):
    return ConfigDict(
        type='PAPShared2FCBBoxHead', in_channels=8, fc_out_channels=16,
        roi_feat_size=7, num_classes=NUM_CLASSES,
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.] * 4,
                        target_stds=[0.1, 0.1, 0.2, 0.2]),
        loss_cls=dict(type='PAPLoss', preset='rcnn', grad_scale=grad_scale),
        **kwargs)


def build(cfg):
    init_default_scope('mmdet')
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def rois_and_targets(num=60, seed=0):
    gen = torch.Generator().manual_seed(seed)
    xy = torch.rand(num, 2, generator=gen) * 60
    boxes = torch.cat([xy, xy + 8 + torch.rand(num, 2, generator=gen) * 30],
                      1)
    rois = torch.cat([torch.randint(0, 2, (num, 1), generator=gen).float(),
                      boxes], 1)
    targets = boxes + torch.randn(num, 4, generator=gen) * 3
    labels = torch.randint(0, NUM_CLASSES + 1, (num, ), generator=gen)
    weights = (torch.rand(num, generator=gen) > 0.1).float()
    feats = torch.randn(num, 8, 7, 7, generator=gen)
    return feats, rois, labels, weights, targets


@pytest.mark.parametrize('reg_input', ['giou', 'iou', 'l1'])
def test_loss_equals_loop_qualities(reg_input):
    head = build(head_cfg(reg_input=reg_input))
    feats, rois, labels, weights, targets = rois_and_targets()
    cls_score, bbox_pred = head(feats)
    assert cls_score.shape == (60, NUM_CLASSES)
    loss = head.loss(cls_score, bbox_pred, rois, labels, weights, targets,
                     torch.ones_like(targets))
    assert set(loss) == {'loss_pap'}
    quality = []
    for i in range(len(labels)):
        q = torch.zeros(())
        if labels[i] < NUM_CLASSES:
            lbl = int(labels[i])
            box = head.bbox_coder.decode(
                rois[i:i + 1, 1:], bbox_pred[i:i + 1, 4 * lbl:4 * lbl + 4])
            q = localization_quality(box, targets[i:i + 1], reg_input,
                                     rois[i:i + 1, 1:])[0]
        quality.append(q)
    expected = PAPLoss(preset='rcnn')(cls_score, labels,
                                      torch.stack(quality), weights)
    torch.testing.assert_close(loss['loss_pap'], expected, rtol=1e-6,
                               atol=0)


def test_grad_scale_multiplies_exactly_the_regression_gradient():
    plain, scaled = build(head_cfg(grad_scale=1.0)), build(head_cfg())
    assert scaled.loss_cls.grad_scale == pytest.approx(7.1324)
    scaled.load_state_dict(plain.state_dict())
    plain.double(), scaled.double()  # exact up to float64 rounding
    feats, rois, labels, weights, targets = rois_and_targets(seed=1)
    values = []
    for head in (plain, scaled):
        loss = head.loss(*head(feats.double()), rois.double(), labels,
                         weights.double(), targets.double(),
                         None)['loss_pap']
        loss.backward()
        values.append(loss.detach())
    assert values[0] == values[1]
    for (name, p), q in zip(plain.named_parameters(), scaled.parameters()):
        if name.startswith('shared_fcs'):  # cls + scaled reg gradient
            continue
        factor = 7.1324 if name.startswith('fc_reg') else 1.0
        assert p.grad.abs().sum() > 0, name
        torch.testing.assert_close(q.grad, p.grad * factor, rtol=1e-9,
                                   atol=1e-18)


def test_no_positive_gives_a_connected_zero():
    head = build(head_cfg())
    feats, rois, labels, weights, targets = rois_and_targets()
    cls_score, bbox_pred = head(feats)
    loss = head.loss(cls_score, bbox_pred, rois,
                     torch.full_like(labels, NUM_CLASSES), weights, targets,
                     None)['loss_pap']
    assert loss == 0 and loss.requires_grad


def test_predict_uses_sigmoid_scores():
    head = build(head_cfg())
    feats, rois, *_ = rois_and_targets(10)
    cls_score, bbox_pred = head(feats)
    raw = head._predict_by_feat_single(
        rois, cls_score, bbox_pred, dict(img_shape=(100, 100)),
        rcnn_test_cfg=None)
    torch.testing.assert_close(raw.scores[:, :NUM_CLASSES],
                               cls_score.sigmoid())
    assert (raw.scores[:, NUM_CLASSES] == 0).all()


def tiny_faster_rcnn():
    m = copy.deepcopy(get_config(
        'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py').model)
    m.backbone.update(depth=18, init_cfg=None)
    m.neck.update(in_channels=[64, 128, 256, 512], out_channels=8)
    m.rpn_head.update(type='PAPRPNHead', in_channels=8, feat_channels=8,
                      loss_cls=dict(type='PAPLoss', preset='rpn'))
    m.roi_head.bbox_roi_extractor.update(out_channels=8)
    m.roi_head.bbox_head = head_cfg()
    m.roi_head.bbox_head.update(
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.] * 4,
                        target_stds=[0.1, 0.1, 0.2, 0.2]))
    m.train_cfg.rcnn.sampler = dict(type='PseudoSampler')
    m.train_cfg.rpn_proposal.update(nms_pre=200, max_per_img=100)
    m.test_cfg.rpn.update(nms_pre=100, max_per_img=50)
    return m


def test_faster_rcnn_trains_a_step_and_predicts():
    init_default_scope('mmdet')
    model = MODELS.build(tiny_faster_rcnn())
    model.init_weights()
    data = model.data_preprocessor(
        demo_mm_inputs(2, [[3, 128, 128], [3, 128, 160]],
                       num_classes=NUM_CLASSES), True)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert set(losses) == {'loss_rpn_pap', 'loss_pap'}
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    assert model.roi_head.bbox_head.fc_reg.weight.grad.abs().sum() > 0
    assert model.rpn_head.rpn_reg.weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        results = model.predict(data['inputs'], data['data_samples'])
    scores = results[0].pred_instances.scores
    assert ((scores >= 0) & (scores <= 1)).all()
