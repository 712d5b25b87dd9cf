# Hinton KD on the RoI classification logits, Faster R-CNN R101 -> R18 FPN
# on COCO (1x schedule). The teacher is mmdet's multi-scale 3x R101 model
# (41.8 box AP), close to the teacher of mdistiller's DKD / ReviewKD
# detection code (Detectron2's pretrained R101-FPN detector, trained
# multi-scale; detection/README.md there). Teacher and student classify the
# same regions: the teacher's box head runs on the RoIs the student sampled
# (DetKDDistiller, share_rois=True), as in mdistiller's detection code.
# KD at T = 1 over the 81 classes (80 + background), weight 1, added to the
# student's detection losses: mmext's choice (mdistiller ships DKD and
# ReviewKD detection configs, no Hinton KD one; its DKD uses T = 1).
_base_ = ['./faster-rcnn_r18-fpn_8xb2_1x_coco.py']
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
# the deployable student alone, {work_dir}/student_final.pth, after training
custom_hooks = [dict(type='StudentExportHook')]

model = dict(
    _delete_=True,
    type='DetKDDistiller',
    student={{_base_.model}},
    teachers=dict(teacher=dict(
        cfg_path='mmdet::faster_rcnn/faster-rcnn_r101_fpn_ms-3x_coco.py',
        teacher_ckpt='https://download.openmmlab.com/mmdetection/v2.0/'
        'faster_rcnn/faster_rcnn_r101_fpn_mstrain_3x_coco/'
        'faster_rcnn_r101_fpn_mstrain_3x_coco_20210524_110822-4d4d2ca8.pth')),
    share_rois=True,
    recorders=dict(student=dict(logits='roi_head.bbox_head.fc_cls'),
                   teacher=dict(logits='roi_head.bbox_head.fc_cls')),
    distill_losses=dict(loss_kd=dict(type='KDLoss', tau=1.0, loss_weight=1.0)),
    loss_inputs=dict(
        loss_kd=dict(preds_S='student.logits', preds_T='teacher.logits')))
