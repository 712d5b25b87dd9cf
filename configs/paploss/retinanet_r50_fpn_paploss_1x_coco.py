# Parameterized AP loss RetinaNet, mmdet's 1x (1333 x 800, 8 x 2), the
# learning rate of the focal-loss baseline (as the authors' configs).
_base_ = [
    '../_base_/models/retinanet_r50_fpn_paploss.py',
    'mmdet::_base_/datasets/coco_detection.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py'
]

optim_wrapper = dict(optimizer=dict(lr=0.01))
