# Faster R-CNN trained by the Parameterized AP loss (Tao et al., NeurIPS
# 2021): the authors' searched RPN curves (gradient scale 1.6950) and R-CNN
# curves (7.1324), sigmoid box classifier without background, all 1000
# proposals of an image ranked (PseudoSampler, IoU 0.5 / 0.5), deltas
# normalised by (0.1, 0.1, 0.2, 0.2); no box losses. Evaluation at score
# 0.05 (the authors' config ships 0.5).
_base_ = 'mmdet::_base_/models/faster-rcnn_r50_fpn.py'

model = dict(
    rpn_head=dict(
        type='PAPRPNHead',
        bbox_coder=dict(target_stds=[0.1, 0.1, 0.2, 0.2]),
        reg_input='giou',
        loss_cls=dict(_delete_=True, type='PAPLoss', preset='rpn')),
    roi_head=dict(
        bbox_head=dict(
            type='PAPShared2FCBBoxHead',
            bbox_coder=dict(target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_input='giou',
            loss_cls=dict(_delete_=True, type='PAPLoss', preset='rcnn'))),
    train_cfg=dict(
        rcnn=dict(
            assigner=dict(pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.5),
            sampler=dict(_delete_=True, type='PseudoSampler'))))

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
