# AdaFocusV2, MobileNetV2 glance on the 224-pixel frames + ResNet-50 on
# 128-pixel patches, 16 frames (coarse-to-fine order, an exit per frame),
# ActivityNet v1.3 (200 classes; videos and lists as data/kinetics400:
# data/activitynet/videos_{train,val}, activitynet_{train,val}_list_videos
# .txt). The authors' scripts/train.sh: 4 GPUs x 8 videos, SGD lr 0.002
# momentum 0.9 wd 1e-4, cosine per epoch, 50 epochs (their loop runs a 51st
# at lr 0), dropout 0.2 on every head, policy GRU width 2048, lr x0.1 for the
# policy, x0.5 for the global network and its head, x5 for the classifier.
# Initialisation: ImageNet MobileNetV2 and ResNet-50.
_base_ = ['mmaction::_base_/default_runtime.py']
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

num_segments = 16
model = dict(
    type='AdaFocusV2',
    num_classes=200,
    num_segments=num_segments,
    patch_size=128,
    global_channels=1280,
    local_channels=2048,
    fc_dropout=0.2,
    frame_order='coarse_to_fine',
    global_backbone=dict(
        type='mmaction.MobileNetV2',
        out_indices=(7, ),
        init_cfg=dict(type='Pretrained', checkpoint='mmcls://mobilenet_v2')),
    local_backbone=dict(
        type='mmaction.ResNet',
        depth=50,
        norm_eval=False,
        pretrained='torchvision://resnet50'),
    policy=dict(type='AdaFocusV2Policy', state_size=7, hidden_dim=2048),
    classifier=dict(type='AdaFocusV2Head', hidden_dim=4096, dropout=0.2),
    data_preprocessor=dict(
        type='mmaction.ActionDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        format_shape='NCHW'))

dataset_type = 'VideoDataset'
data_root = 'data/activitynet/videos_train'
data_root_val = 'data/activitynet/videos_val'
ann_file_train = 'data/activitynet/activitynet_train_list_videos.txt'
ann_file_val = 'data/activitynet/activitynet_val_list_videos.txt'
file_client_args = dict(io_backend='disk')
train_pipeline = [
    dict(type='DecordInit', **file_client_args),
    dict(type='SampleFrames', clip_len=1, frame_interval=1,
         num_clips=num_segments),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(
        type='MultiScaleCrop',
        input_size=224,
        scales=(1, 0.875, 0.75, 0.66),
        random_crop=False,
        max_wh_scale_gap=1,
        num_fixed_crops=13),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='DecordInit', **file_client_args),
    dict(type='SampleFrames', clip_len=1, frame_interval=1,
         num_clips=num_segments, test_mode=True),
    dict(type='DecordDecode'),
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
        data_prefix=dict(video=data_root),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_val,
        data_prefix=dict(video=data_root_val),
        pipeline=val_pipeline,
        test_mode=True))
test_dataloader = val_dataloader

# top-1 and mAP of every exit (the authors report ActivityNet and FCVID by
# mAP); conditional exit: tools/analysis_tools/adaptive_inference.py
val_evaluator = dict(type='MultiExitAccuracy', average_precision=True)
test_evaluator = val_evaluator

train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=50, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=50, eta_min=0, by_epoch=True,
         begin=0, end=50)
]
# the authors' parameter groups (models/adafocus_v2.py get_optim_policies);
# 'global_' matches global_backbone and global_fc ('global' alone is a
# Python keyword, which mmengine's config printer cannot write as a key)
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.002, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(
        custom_keys={
            'policy': dict(lr_mult=0.1),
            'global_': dict(lr_mult=0.5),
            'classifier': dict(lr_mult=5.0)
        }))
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=3))
auto_scale_lr = dict(enable=False, base_batch_size=32)

# smoke runs (mmext/testing/smoke.py): 16-pixel patches of 32-pixel frames
# (a 1x1 global map), a narrow MobileNetV2, a ResNet-18, small policy and
# classifier
smoke_model = dict(
    patch_size=16,
    local_channels=512,
    global_backbone=dict(widen_factor=0.25),
    local_backbone=dict(depth=18),
    policy=dict(state_size=1, hidden_dim=16),
    classifier=dict(hidden_dim=32))
