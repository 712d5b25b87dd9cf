# 100 epochs at batch 64 (8 GPUs x 8 images): SGD, 500-iteration linear
# warm-up from 0.001, steps by 10x; each config sets lr. Milestones (the
# Parameterized AP loss paper: 60/80 for RetinaNet here, 75/95 for Faster
# R-CNN in schedule_100e_8xb8_steps75-95.py).
_base_ = 'mmdet::_base_/schedules/schedule_1x.py'

train_cfg = dict(max_epochs=100, val_interval=10)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=100, by_epoch=True,
         milestones=[60, 80], gamma=0.1)
]
auto_scale_lr = dict(base_batch_size=64)
