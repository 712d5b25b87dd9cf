# MLKP, corrected mode, ResNet-101 C4 on COCO (81 classes: 81 scores,
# 324 deltas) with mmdet's 1x schedule (8 GPUs x 2 images, lr 0.02). The
# authors do not publish a COCO recipe (README: 30.0 AP).
_base_ = [
    '../_base_/models/mlkp_faster-rcnn_r101-caffe-c4.py',
    'mmdet::_base_/datasets/coco_detection.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py'
]
model = dict(
    data_preprocessor=dict(pad_size_divisor=32),
    roi_head=dict(bbox_head=dict(num_classes=80)),
    test_cfg=dict(rcnn=dict(score_thr=0.05, max_per_img=100)))
