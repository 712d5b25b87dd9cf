# AdaFocusV2 on TSM networks, Something-Something V1 (174 classes, JPEG
# frames read by mmaction2's RawframeDataset, see tools/data/sthv1): 8 glance
# frames through TSM MobileNetV2 at 224 pixels, 12 focus frames (sampled
# separately) through TSM ResNet-50 on one 128-pixel patch per video chosen
# by an MLP policy. The authors' README command (Experiments on Sth-Sth and
# Jester): batch 32, SGD lr 0.01 momentum 0.9 wd 5e-4, cosine per epoch, 50
# epochs, dropout 0.5, gradient norm clipped at 20, no partial BN, shift 1/8
# in the residual branch, lr x0.5 for the global network, x0.01 for the
# policy (TSN's 5x lr for the heads is not used); no flipping.
# Initialisation: ImageNet MobileNetV2 and ResNet-50.
_base_ = ['mmaction::_base_/default_runtime.py']
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

glance_segments = 8
focus_segments = 12
model = dict(
    type='AdaFocusV2TSM',
    num_classes=174,
    glance_segments=glance_segments,
    focus_segments=focus_segments,
    patch_size=128,
    global_channels=1280,
    local_channels=2048,
    dropout=0.5,
    global_backbone=dict(
        type='mmaction.MobileNetV2TSM',
        num_segments=glance_segments,
        shift_div=8,
        pretrained2d=True,
        pretrained='mmcls://mobilenet_v2'),
    local_backbone=dict(
        type='mmaction.ResNetTSM',
        depth=50,
        num_segments=focus_segments,
        shift_div=8,
        shift_place='blockres',
        norm_eval=False,
        pretrained='torchvision://resnet50'),
    policy=dict(
        type='AdaFocusV2MLPPolicy', state_size=7, hidden_dims=(1024, 512)),
    data_preprocessor=dict(
        type='mmaction.ActionDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        format_shape='NCHW'))

dataset_type = 'RawframeDataset'
data_root = 'data/sthv1/rawframes'
ann_file_train = 'data/sthv1/sthv1_train_list_rawframes.txt'
ann_file_val = 'data/sthv1/sthv1_val_list_rawframes.txt'
file_client_args = dict(io_backend='disk')
train_pipeline = [
    dict(type='GlanceFocusSampleFrames', glance_clips=glance_segments,
         focus_clips=focus_segments),
    dict(type='RawFrameDecode', **file_client_args),
    dict(type='Resize', scale=(-1, 256)),
    dict(
        type='MultiScaleCrop',
        input_size=224,
        scales=(1, 0.875, 0.75, 0.66),
        random_crop=False,
        max_wh_scale_gap=1,
        num_fixed_crops=13),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='GlanceFocusSampleFrames', glance_clips=glance_segments,
         focus_clips=focus_segments, test_mode=True),
    dict(type='RawFrameDecode', **file_client_args),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
train_dataloader = dict(
    batch_size=8,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_train,
        data_prefix=dict(img=data_root),
        filename_tmpl='{:05}.jpg',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_val,
        data_prefix=dict(img=data_root),
        filename_tmpl='{:05}.jpg',
        pipeline=val_pipeline,
        test_mode=True))
test_dataloader = val_dataloader

val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator

train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=50, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=50, eta_min=0, by_epoch=True,
         begin=0, end=50)
]
# the authors' parameter groups (main.py get_optim_policies); 'global_'
# matches global_backbone, global_fc and global_aux_fc
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4),
    paramwise_cfg=dict(
        custom_keys={
            'policy': dict(lr_mult=0.01),
            'global_': dict(lr_mult=0.5)
        }),
    clip_grad=dict(max_norm=20, norm_type=2))
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=3))
auto_scale_lr = dict(enable=False, base_batch_size=32)

# smoke runs (mmext/testing/smoke.py): 16-pixel patches of 32-pixel frames
# (a 1x1 global map), a narrow TSM MobileNetV2, a TSM ResNet-18, a small
# policy (no ImageNet weights: mmaction2's TSM backbones must not look for
# them)
smoke_model = dict(
    patch_size=16,
    local_channels=512,
    global_backbone=dict(widen_factor=0.25, pretrained2d=False),
    local_backbone=dict(depth=18, pretrained2d=False),
    policy=dict(state_size=1, hidden_dims=(8, )))
