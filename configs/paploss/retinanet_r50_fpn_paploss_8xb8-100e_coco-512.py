# Parameterized AP loss RetinaNet, the authors' protocol (512 x 512, 100
# epochs, lr 0.016); paper: 40.5 AP on COCO.
_base_ = [
    '../_base_/models/retinanet_r50_fpn_paploss.py',
    '../_base_/datasets/coco_detection_512_ssd-augm.py',
    '../_base_/schedules/schedule_100e_8xb8.py',
    'mmdet::_base_/default_runtime.py'
]

optim_wrapper = dict(optimizer=dict(lr=0.016))
