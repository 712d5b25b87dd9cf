# CE + GIoU Faster R-CNN, mmdet's 1x.
_base_ = [
    '../_base_/models/faster-rcnn_r50_fpn_ce-giou.py',
    'mmdet::_base_/datasets/coco_detection.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py'
]

optim_wrapper = dict(optimizer=dict(lr=0.02))
