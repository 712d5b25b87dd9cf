# UniGrad on the embedded digits (scikit-learn's 1,797 handwritten digits,
# 32 x 32, written by `tools/misc/make_smoke_data.py digits --out data`):
# a narrow CIFAR ResNet-18 (16-32-64-128 channels) and a 3-layer 128-256-128
# projector, CPU-sized; everything else is the ImageNet recipe's structure
# (momentum encoder 0.996 -> 1, lambda 100, rho 0.99, SGD with warm-up and
# cosine). tools/analysis_tools/unigrad_digits.py trains it and compares the
# linear evaluation of its encoder with that of a random one.
_base_ = ['mmpretrain::_base_/default_runtime.py']
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

width = 16
model = dict(
    type='UniGrad',
    base_momentum=0.004,
    backbone=dict(
        type='ResNet_CIFAR',
        depth=18,
        stem_channels=width,
        base_channels=width,
        zero_init_residual=True),
    neck=dict(
        type='NonLinearNeck',
        in_channels=width * 8,
        hid_channels=width * 16,
        out_channels=width * 8,
        num_layers=3,
        with_bias=False,
        with_last_bn=False,
        with_last_bias=True,
        with_avg_pool=True),
    loss=dict(type='UniGradLoss', dim=width * 8, lambd=100.0, rho=0.99))

data_root = 'data/digits'
data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[127.5, 127.5, 127.5],
    std=[127.5, 127.5, 127.5],
    to_rgb=True)
# no flips (digits are not symmetric), no colour (grey images)
view_pipeline = [
    dict(
        type='RandomResizedCrop',
        scale=32,
        crop_ratio_range=(0.4, 1.0),
        backend='pillow'),
    dict(
        type='RandomApply',
        transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4)],
        prob=0.8),
    dict(
        type='GaussianBlur',
        magnitude_range=(0.1, 1.0),
        magnitude_std='inf',
        prob=0.5),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackInputs')
]
train_dataloader = dict(
    batch_size=128,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    drop_last=True,
    dataset=dict(
        type='CustomDataset',
        data_root=data_root,
        data_prefix='train',
        pipeline=train_pipeline))

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        begin=0,
        end=2,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=18,
        eta_min_ratio=1e-3,
        by_epoch=True,
        begin=2,
        end=20,
        convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=20)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=5),
    checkpoint=dict(type='CheckpointHook', interval=20, max_keep_ckpts=1))
