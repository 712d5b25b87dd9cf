"""PAPRPNHead: the loss key a two-stage detector expects, one ranking of
the sampled anchors, and the gradient scale on the regression branch
only."""
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import mmext  # noqa: F401
from mmext.registry import MODELS

STRIDES = [4, 8, 16, 32, 64]


def build(grad_scale=None):
    init_default_scope('mmdet')
    head = MODELS.build(ConfigDict(
        type='PAPRPNHead', in_channels=8, feat_channels=8,
        anchor_generator=dict(type='AnchorGenerator', scales=[8],
                              ratios=[0.5, 1.0, 2.0], strides=STRIDES),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.] * 4,
                        target_stds=[0.1, 0.1, 0.2, 0.2]),
        loss_cls=dict(type='PAPLoss', preset='rpn', grad_scale=grad_scale),
        train_cfg=dict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.7,
                          neg_iou_thr=0.3, min_pos_iou=0.3,
                          match_low_quality=True, ignore_iof_thr=-1),
            sampler=dict(type='RandomSampler', num=64, pos_fraction=0.5,
                         neg_pos_ub=-1, add_gt_as_proposals=False),
            allowed_border=-1, pos_weight=-1, debug=False)))
    head.init_weights()
    return head


def test_grad_scale_and_loss_key():
    plain, scaled = build(1.0), build()
    assert scaled.loss_cls.grad_scale == pytest.approx(1.6950)
    scaled.load_state_dict(plain.state_dict())
    plain.double(), scaled.double()  # exact up to float64 rounding
    gen = torch.Generator().manual_seed(0)
    feats = [torch.randn(1, 8, 64 // s, 64 // s, generator=gen,
                         dtype=torch.float64) for s in STRIDES]
    gts = [InstanceData(bboxes=torch.tensor([[4., 6., 40., 30.],
                                             [20., 24., 60., 62.]]),
                        labels=torch.zeros(2, dtype=torch.long))]
    metas = [dict(img_shape=(64, 64), pad_shape=(64, 64))]
    grads, values = [], []
    for head in (plain, scaled):
        torch.manual_seed(0)  # the same random sample of anchors
        losses = head.loss_by_feat(*head(feats), gts, metas)
        assert set(losses) == {'loss_rpn_pap'}
        losses['loss_rpn_pap'].backward()
        values.append(losses['loss_rpn_pap'].detach())
        grads.append(dict(head.named_parameters()))
    assert values[0] == values[1] and 0 < values[0] < 2
    for name, p in grads[0].items():
        if name.startswith('rpn_conv'):  # shared: cls + scaled reg gradient
            continue
        factor = 1.6950 if 'rpn_reg' in name else 1.0
        assert p.grad.abs().sum() > 0, name
        torch.testing.assert_close(grads[1][name].grad, p.grad * factor,
                                   rtol=1e-9, atol=1e-18)
