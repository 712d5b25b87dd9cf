# MLKP's solver (models/{VGG16,ResNet}/solver.prototxt, tools/train_net.py):
# SGD lr 0.001 without decay (lr_policy "fixed"; the ResNet solver's step
# at 3,000,000 iterations never triggers), momentum 0.9, weight decay 5e-4,
# iter_size 2 with one image per forward: 40,000 updates of 2 images. In
# mmengine: batch 1 per iteration (the dataset base voc0712_1xb1.py),
# gradients accumulated over 2 iterations, 80,000 iterations. Caffe's
# per-layer multipliers: biases lr x2 without decay, the neck's shallow
# conv lr x5, deep conv and deconv lr x2.
# Includes mmdet's default runtime, with iteration-based checkpoints/logs.
_base_ = 'mmdet::_base_/default_runtime.py'

train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=80000, val_interval=80000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = []
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=0.0005),
    accumulative_counts=2,
    paramwise_cfg=dict(
        bias_lr_mult=2.0,
        bias_decay_mult=0.0,
        custom_keys={
            'neck.shallow_conv': dict(lr_mult=5.0),
            'neck.deep_conv': dict(lr_mult=2.0),
            'neck.deep_up': dict(lr_mult=2.0)
        }))
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=10000))
log_processor = dict(by_epoch=False)
