# The 100-epoch schedule with the Faster R-CNN steps of the Parameterized AP
# loss paper (75 / 95).
_base_ = './schedule_100e_8xb8.py'

param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=100, by_epoch=True,
         milestones=[75, 95], gamma=0.1)
]
