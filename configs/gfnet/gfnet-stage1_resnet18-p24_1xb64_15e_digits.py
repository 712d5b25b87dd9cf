# GFNet on scikit-learn's handwritten digits (data/digits, written by
# `tools/misc/make_smoke_data.py digits --out data`), upsampled to 64 x 64:
# a narrow ResNet-18 (16 base channels) as both encoders, 24-pixel patches,
# T = 3, GRU classifier; stage 1 (random patches), from scratch, CPU.
# tools/analysis_tools/gfnet_digits.py runs the three stages and the
# budgeted evaluation.
_base_ = ['mmpretrain::_base_/default_runtime.py']
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    type='GFNet',
    patch_size=24,
    num_steps=3,
    stage=1,
    glance_interpolation='bicubic',
    global_encoder=dict(
        type='mmpretrain.ImageClassifier',
        backbone=dict(
            type='mmpretrain.ResNet', depth=18, stem_channels=16,
            base_channels=16),
        neck=dict(type='mmpretrain.GlobalAveragePooling'),
        head=dict(type='mmpretrain.LinearClsHead', num_classes=10,
                  in_channels=128)),
    classifier=dict(type='GFNetHead', in_channels=128, num_classes=10,
                    hidden_dim=64),
    policy=dict(type='GFNetPolicy', in_channels=128, encoder='conv',
                hidden_dim=32),
    data_preprocessor=dict(
        num_classes=10,
        mean=[127.5, 127.5, 127.5],
        std=[127.5, 127.5, 127.5],
        to_rgb=True))

data_root = 'data/digits'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64), interpolation='bicubic'),
    dict(type='RandomCrop', crop_size=64, padding=4),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64), interpolation='bicubic'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=64,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        type='CustomDataset',
        data_root=data_root,
        data_prefix='train',
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=128,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        type='CustomDataset',
        data_root=data_root,
        data_prefix='val',
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
val_evaluator = dict(type='MultiExitAccuracy')
test_dataloader = val_dataloader
test_evaluator = val_evaluator

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, nesterov=True,
                   weight_decay=1e-4))
param_scheduler = dict(type='CosineAnnealingLR', T_max=15, by_epoch=True,
                       begin=0, end=15)
train_cfg = dict(by_epoch=True, max_epochs=15, val_interval=5)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=5),
    checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=1))
randomness = dict(seed=0, deterministic=False)
# keep the 64-pixel images in smoke runs (24-pixel patches)
smoke_size_factor = 1.0
