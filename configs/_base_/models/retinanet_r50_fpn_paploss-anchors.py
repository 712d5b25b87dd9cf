# RetinaNet R50-FPN with the anchors of the Parameterized AP loss
# experiments (Tao et al., NeurIPS 2021; the authors' configs): 2 scales per
# octave (6 anchors per location), deltas normalised by (0.1, 0.1, 0.2,
# 0.2). Focal + L1 here; evaluation at score 0.05 and NMS 0.5 for every
# loss (the authors' PAP config ships 0.5 / 0.6).
_base_ = 'mmdet::_base_/models/retinanet_r50_fpn.py'

model = dict(
    bbox_head=dict(
        anchor_generator=dict(scales_per_octave=2),
        bbox_coder=dict(target_stds=[0.1, 0.1, 0.2, 0.2])),
    test_cfg=dict(score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5)))
