# CE + L1 Faster R-CNN (mmdet's stock model), mmdet's 1x.
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_detection.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py'
]

optim_wrapper = dict(optimizer=dict(lr=0.02))
