# MLKP as released, VGG16 on COCO (81 classes), images warped to
# 1000 x 600, mmdet's 1x schedule at lr 0.01 (no BN in VGG16; the authors
# publish no COCO recipe); the parameter count of the authors' COCO model
# (150,629,653).
_base_ = [
    '../_base_/models/mlkp_faster-rcnn_vgg16.py',
    '../_base_/datasets/coco_detection_orientation-resize.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py'
]
model = dict(
    neck=dict(mode='faithful'),
    roi_head=dict(bbox_head=dict(num_classes=80)))
optim_wrapper = dict(optimizer=dict(lr=0.01))
