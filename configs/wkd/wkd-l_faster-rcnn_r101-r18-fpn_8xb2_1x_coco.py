# WKD-L on the RoI classification logits, Faster R-CNN R101 -> R18 FPN on COCO
# (1x schedule), on the RoIs the student sampled (see the KD baseline this
# config inherits). The authors have not released their detection code or
# settings (JiamingLv/WKD issue #1): T = 2, gamma = 30 and kappa = 1 are
# their ImageNet ResNet-34 -> ResNet-18 values, and the 81 x 81 cost
# (80 classes + background) is 1 - cos of the teacher's fc_cls weights:
#   python tools/misc/wkd_cost_matrix.py \
#       MMDET/.mim/configs/faster_rcnn/faster-rcnn_r101_fpn_ms-3x_coco.py \
#       TEACHER_CKPT \
#       checkpoints/wkd_cost_matrix/coco_faster-rcnn_r101_fc-cosine.pth \
#       --method fc --logit-module roi_head.bbox_head.fc_cls
# with MMDET the installed mmdet package directory and TEACHER_CKPT the
# teacher_ckpt (a local copy or the URL) of the KD config.
_base_ = ['../kd/kd_faster-rcnn_r101-r18-fpn_8xb2_1x_coco.py']

model = dict(distill_losses=dict(
    _delete_=True,
    loss_wkd_l=dict(type='WKDLogitLoss',
                    temperature=2.0,
                    gamma=30.0,
                    cost_matrix_file='checkpoints/wkd_cost_matrix/'
                    'coco_faster-rcnn_r101_fc-cosine.pth',
                    kappa=1.0,
                    sinkhorn_lambda=0.05,
                    sinkhorn_iters=10)),
             loss_inputs=dict(_delete_=True,
                              loss_wkd_l=dict(preds_S='student.logits',
                                              preds_T='teacher.logits',
                                              gt_label='gt_label')))
