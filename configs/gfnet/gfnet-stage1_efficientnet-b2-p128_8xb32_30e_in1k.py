# GFNet-EfficientNet-B2, patch 128, T = 4, stage 1 (warm-up, random patches).
# As GFNet-MobileNetV3: the global encoder is an ImageNet EfficientNet-B2
# fine-tuned on 128 x 128 inputs beforehand and frozen, the glance step
# predicts with its own head, later steps with the cascade classifier (1408
# pooled channels), the policy reads the state through a 1x1 conv, deep
# supervision x5. Recipe: SGD Nesterov, lr 0.005 local encoder / 0.1
# classifier, wd 1e-4, 30 epochs. Training crops are 224 pixels as in the
# authors' train.py; evaluation is at EfficientNet-B2's 260 pixels (resize
# 297, bicubic, centre crop), as their inference.py.
_base_ = ['./gfnet-stage1_mobilenetv3-large-p96_8xb32_90e_in1k.py']

model = dict(
    patch_size=128,
    num_steps=4,
    global_encoder=dict(
        _delete_=True,
        type='mmpretrain.ImageClassifier',
        backbone=dict(type='mmpretrain.EfficientNet', arch='b2'),
        neck=dict(type='mmpretrain.GlobalAveragePooling'),
        head=dict(
            type='mmpretrain.LinearClsHead',
            num_classes=1000,
            in_channels=1408),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmclassification/v0/'
            'efficientnet/efficientnet-b2_3rdparty_8xb32_in1k_20220119-'
            'ea374a30.pth')),
    classifier=dict(in_channels=1408),
    policy=dict(in_channels=1408))
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='ResizeEdge',
        scale=297,
        edge='short',
        backend='pillow',
        interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=260),
    dict(type='PackInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
param_scheduler = dict(T_max=30, end=30)
train_cfg = dict(max_epochs=30)
# smoke runs: EfficientNet-B0 (1280 channels), 16-pixel patches
smoke_model = dict(
    _delete_=True,
    patch_size=16,
    global_encoder=dict(backbone=dict(arch='b0'), head=dict(in_channels=1280)),
    classifier=dict(in_channels=1280),
    policy=dict(in_channels=1280, hidden_dim=32))
