# UniGrad, ResNet-50 on ImageNet-1k, 100 epochs: the authors' recipe
# (fundamentalvision/UniGrad configs/unigrad.py, project/*): batch 1024
# (8 x 128), SGD lr 0.05 x 1024 / 256 = 0.2, momentum 0.9, weight decay 1e-4
# on all parameters, 5 warm-up epochs from 1e-3 lr, then a cosine per
# iteration; momentum 0.996 -> 1 (cosine); lambda 100, rho 0.99; AMP.
_base_ = ['mmpretrain::_base_/default_runtime.py']
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    type='UniGrad',
    base_momentum=0.004,  # mmengine's convention: the authors' 0.996
    backbone=dict(
        type='ResNet',
        depth=50,
        norm_cfg=dict(type='SyncBN'),
        zero_init_residual=True),
    neck=dict(
        type='NonLinearNeck',
        in_channels=2048,
        hid_channels=2048,
        out_channels=2048,
        num_layers=3,
        with_bias=False,
        with_last_bn=False,
        with_last_bias=True,
        with_avg_pool=True,
        norm_cfg=dict(type='SyncBN')),
    loss=dict(type='UniGradLoss', dim=2048, lambd=100.0, rho=0.99))

# data: two views with the same augmentation (no solarization; blur with
# probability 0.5 on both), as the authors' project/dataloader.py
data_root = 'data/imagenet/'
data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)
view_pipeline = [
    dict(
        type='RandomResizedCrop',
        scale=224,
        crop_ratio_range=(0.2, 1.0),
        backend='pillow'),
    dict(
        type='RandomApply',
        transforms=[
            dict(
                type='ColorJitter',
                brightness=0.4,
                contrast=0.4,
                saturation=0.4,
                hue=0.1)
        ],
        prob=0.8),
    dict(
        type='RandomGrayscale',
        prob=0.2,
        keep_channels=True,
        channel_weights=(0.114, 0.587, 0.2989)),
    dict(
        type='GaussianBlur',
        magnitude_range=(0.1, 2.0),
        magnitude_std='inf',
        prob=0.5),
    dict(type='RandomFlip', prob=0.5),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackInputs')
]
train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='ImageNet',
        data_root=data_root,
        split='train',
        pipeline=train_pipeline))

optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='SGD', lr=0.2, momentum=0.9, weight_decay=1e-4))
# warm-up from 1e-3 lr, then cosine to 1e-3 lr; as the authors' adjust_lr the
# cosine's period is the whole run (its argument is (k - warm-up) / total),
# so it ends at 1.43e-3, not 2e-4
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        begin=0,
        end=5,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=100,
        eta_min_ratio=1e-3,
        by_epoch=True,
        begin=5,
        end=100,
        convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100)
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
auto_scale_lr = dict(base_batch_size=1024)
