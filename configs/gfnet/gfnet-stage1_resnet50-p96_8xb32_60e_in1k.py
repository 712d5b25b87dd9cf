# GFNet-ResNet-50, patch 96, T = 5, stage 1 (warm-up): focus patches at
# uniformly random positions; both encoders (initialised from mmpretrain's
# ImageNet ResNet-50) and the GRU classifier learn. Authors' recipe
# (configs.py / train.py): SGD Nesterov m 0.9, wd 1e-4, batch 256, 60 epochs,
# cosine per epoch, lr 0.01 for the encoders and 0.1 for the classifier.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

encoder = dict(
    type='mmpretrain.ImageClassifier',
    backbone=dict(type='mmpretrain.ResNet', depth=50),
    neck=dict(type='mmpretrain.GlobalAveragePooling'),
    head=dict(type='mmpretrain.LinearClsHead', num_classes=1000,
              in_channels=2048),
    init_cfg=dict(
        type='Pretrained',
        checkpoint='https://download.openmmlab.com/mmclassification/v0/'
        'resnet/resnet50_8xb32_in1k_20210831-ea4938fc.pth'))
model = dict(
    type='GFNet',
    patch_size=96,
    num_steps=5,
    stage=1,
    glance_interpolation='bicubic',
    glance_logits='classifier',
    dsn_ratio=1.0,
    global_encoder=encoder,
    classifier=dict(type='GFNetHead', in_channels=2048, mode='gru',
                    hidden_dim=1024),
    policy=dict(type='GFNetPolicy', in_channels=2048, encoder='mlp',
                hidden_dim=1024),
    data_preprocessor=dict(
        num_classes=1000,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True))

val_evaluator = dict(_delete_=True, type='MultiExitAccuracy')
test_evaluator = val_evaluator

# 'classifier' matches f_C only (the encoders' own heads are '*.head.fc')
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, nesterov=True,
                   weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={'classifier': dict(lr_mult=10.0)}))
param_scheduler = dict(type='CosineAnnealingLR', T_max=60, by_epoch=True,
                       begin=0, end=60)
train_cfg = dict(by_epoch=True, max_epochs=60, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=256)
# smoke runs (mmext/testing/smoke.py): 16-pixel patches of 32-pixel images,
# a ResNet-50 of 8 base channels (256 output channels), small GRUs
smoke_model = dict(
    patch_size=16,
    global_encoder=dict(
        backbone=dict(stem_channels=8, base_channels=8),
        head=dict(in_channels=256)),
    classifier=dict(in_channels=256, hidden_dim=32),
    policy=dict(in_channels=256, hidden_dim=32))
