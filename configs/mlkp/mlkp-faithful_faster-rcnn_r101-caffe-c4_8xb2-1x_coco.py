# MLKP as released, ResNet-101 C4 on COCO (81 classes), images warped to
# 1000 x 600, mmdet's 1x schedule; the parameter count of the authors'
# COCO model (64,068,885).
_base_ = [
    '../_base_/models/mlkp_faster-rcnn_r101-caffe-c4.py',
    '../_base_/datasets/coco_detection_orientation-resize.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py'
]
model = dict(
    neck=dict(mode='faithful'),
    roi_head=dict(bbox_head=dict(num_classes=80)))
