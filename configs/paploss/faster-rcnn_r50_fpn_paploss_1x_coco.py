# Parameterized AP loss Faster R-CNN, mmdet's 1x; lr 0.6x the CE
# baseline's, the authors' ratio (0.024 vs 0.04 at batch 64).
_base_ = [
    '../_base_/models/faster-rcnn_r50_fpn_paploss.py',
    'mmdet::_base_/datasets/coco_detection.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py'
]

optim_wrapper = dict(optimizer=dict(lr=0.012))
