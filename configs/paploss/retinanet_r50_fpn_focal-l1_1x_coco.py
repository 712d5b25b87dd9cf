# Focal + L1 RetinaNet (PAP-loss anchors), mmdet's 1x (1333 x 800, 8 x 2).
_base_ = [
    '../_base_/models/retinanet_r50_fpn_paploss-anchors.py',
    'mmdet::_base_/datasets/coco_detection.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py'
]

optim_wrapper = dict(optimizer=dict(lr=0.01))
