"""PAPRetinaHead: its one ranking equals PAPLoss over rows gathered by an
explicit loop over (image, level, y, x, anchor); the gradient scale
multiplies exactly the regression branch's gradient; a detector trains a
step and predicts."""
import copy

import pytest
import torch
from mmdet.structures.bbox import get_box_tensor
from mmdet.testing import demo_mm_inputs
from mmengine.config import ConfigDict
from mmengine.hub import get_config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import mmext  # noqa: F401
from mmext.models.losses import PAPLoss
from mmext.models.losses.parameterized_ap_loss import localization_quality
from mmext.registry import MODELS

NUM_CLASSES = 3
STRIDES = [8, 16, 32, 64, 128]


def head_cfg(grad_scale=None, reg_input='giou'):
    return ConfigDict(
        type='PAPRetinaHead',
        num_classes=NUM_CLASSES,
        in_channels=8,
        feat_channels=8,
        stacked_convs=1,
        reg_input=reg_input,
        anchor_generator=dict(
            type='AnchorGenerator', octave_base_scale=4, scales_per_octave=2,
            ratios=[0.5, 1.0, 2.0], strides=STRIDES),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.] * 4,
                        target_stds=[0.1, 0.1, 0.2, 0.2]),
        loss_cls=dict(type='PAPLoss', preset='retinanet',
                      grad_scale=grad_scale),
        train_cfg=dict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5,
                          neg_iou_thr=0.4, min_pos_iou=0,
                          ignore_iof_thr=-1),
            sampler=dict(type='PseudoSampler'), allowed_border=-1,
            pos_weight=-1, debug=False))


def inputs(seed=0, size=128, num_imgs=2):
    gen = torch.Generator().manual_seed(seed)
    feats = [torch.randn(num_imgs, 8, size // s, size // s, generator=gen)
             for s in STRIDES]
    gts, metas = [], []
    for _ in range(num_imgs):
        xy = torch.rand(3, 2, generator=gen) * size * 0.6
        wh = 10 + torch.rand(3, 2, generator=gen) * size * 0.4
        gts.append(InstanceData(
            bboxes=torch.cat([xy, (xy + wh).clamp(max=size)], 1),
            labels=torch.randint(0, NUM_CLASSES, (3, ), generator=gen)))
        metas.append(dict(img_shape=(size, size), pad_shape=(size, size)))
    return feats, gts, metas


def build(cfg):
    init_default_scope('mmdet')
    head = MODELS.build(cfg)
    head.init_weights()
    return head


@pytest.mark.parametrize('reg_input', ['giou', 'l1'])
def test_loss_equals_loop_gathered_ranking(reg_input):
    head = build(head_cfg(reg_input=reg_input))
    feats, gts, metas = inputs()
    cls_scores, bbox_preds = head(feats)
    loss = head.loss_by_feat(cls_scores, bbox_preds, gts, metas)['loss_pap']

    anchors, valid = head.get_anchors(
        [c.shape[-2:] for c in cls_scores], metas, device='cpu')
    labels, weights, targets, _, _ = head.get_targets(anchors, valid, gts,
                                                      metas)
    num_a = head.num_base_priors
    rows = dict(logit=[], label=[], weight=[], quality=[])
    for img in range(len(metas)):
        for lvl, (cls, reg) in enumerate(zip(cls_scores, bbox_preds)):
            h, w = cls.shape[-2:]
            lvl_anchors = get_box_tensor(anchors[img][lvl])
            for y in range(h):
                for x in range(w):
                    for a in range(num_a):
                        i = (y * w + x) * num_a + a  # mmdet's anchor order
                        rows['logit'].append(
                            cls[img, a * NUM_CLASSES:(a + 1) * NUM_CLASSES,
                                y, x])
                        label = int(labels[lvl][img, i])
                        rows['label'].append(label)
                        rows['weight'].append(float(weights[lvl][img, i]))
                        q = torch.zeros(())
                        if label < NUM_CLASSES:
                            box = head.bbox_coder.decode(
                                lvl_anchors[i:i + 1],
                                reg[img, a * 4:(a + 1) * 4, y, x][None])
                            q = localization_quality(
                                box, targets[lvl][img, i][None], reg_input,
                                lvl_anchors[i:i + 1])[0]
                        rows['quality'].append(q)
    assert sum(lbl < NUM_CLASSES for lbl in rows['label']) >= 3
    expected = PAPLoss(preset='retinanet')(
        torch.stack(rows['logit']), torch.tensor(rows['label']),
        torch.stack(rows['quality']), torch.tensor(rows['weight']))
    torch.testing.assert_close(loss, expected, rtol=1e-6, atol=0)


def test_grad_scale_multiplies_exactly_the_regression_gradient():
    scale = 4.1231
    plain, scaled = build(head_cfg(grad_scale=1.0)), build(head_cfg())
    assert scaled.loss_cls.grad_scale == scale  # the preset's
    scaled.load_state_dict(plain.state_dict())
    plain.double(), scaled.double()  # exact up to float64 rounding
    feats, gts, metas = inputs(1)
    feats = [f.double() for f in feats]
    losses = []
    for head in (plain, scaled):
        loss = head.loss_by_feat(*head(feats), gts, metas)['loss_pap']
        loss.backward()
        losses.append(loss.detach())
    assert losses[0] == losses[1]
    grads = [dict((n, p.grad) for n, p in h.named_parameters())
             for h in (plain, scaled)]
    reg = [n for n in grads[0] if 'reg' in n]
    assert reg and len(reg) < len(grads[0])
    for name in grads[0]:
        factor = scale if name in reg else 1.0
        assert grads[0][name].abs().sum() > 0, name
        torch.testing.assert_close(grads[1][name], grads[0][name] * factor,
                                   rtol=1e-9, atol=1e-18)


def test_retinanet_trains_a_step_and_predicts():
    cfg = get_config('mmdet::retinanet/retinanet_r50_fpn_1x_coco.py').model
    cfg = copy.deepcopy(cfg)
    cfg.backbone.update(depth=18, init_cfg=None)
    cfg.neck.update(in_channels=[64, 128, 256, 512], out_channels=8)
    cfg.bbox_head = head_cfg()
    cfg.bbox_head.pop('train_cfg')
    init_default_scope('mmdet')
    model = MODELS.build(cfg)
    model.init_weights()
    data = model.data_preprocessor(
        demo_mm_inputs(2, [[3, 128, 128], [3, 128, 128]],
                       num_classes=NUM_CLASSES), True)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert set(losses) == {'loss_pap'}
    assert torch.isfinite(losses['loss_pap'])
    losses['loss_pap'].backward()
    model.eval()
    with torch.no_grad():
        results = model.predict(data['inputs'], data['data_samples'])
    scores = results[0].pred_instances.scores
    assert ((scores >= 0) & (scores <= 1)).all()


def test_bad_config():
    with pytest.raises(ValueError, match="reg_input='diou'"):
        build(head_cfg(reg_input='diou'))
    cfg = head_cfg()
    cfg.loss_cls = dict(type='FocalLoss', use_sigmoid=True)
    with pytest.raises(TypeError, match='loss_cls must be a PAPLoss'):
        build(cfg)
