# GFNet-EfficientNet-B3 P144, T = 4, stage 1: as EfficientNet-B2 with 1536
# pooled channels, evaluated at 300 pixels (resize 332, bicubic, centre
# crop).
_base_ = ['./gfnet-stage1_efficientnet-b2-p128_8xb32_30e_in1k.py']

model = dict(
    patch_size=144,
    global_encoder=dict(
        backbone=dict(arch='b3'),
        head=dict(in_channels=1536),
        init_cfg=dict(
            checkpoint='https://download.openmmlab.com/mmclassification/v0/'
            'efficientnet/efficientnet-b3_3rdparty_8xb32_in1k_20220119-'
            '4b4d7487.pth')),
    classifier=dict(in_channels=1536),
    policy=dict(in_channels=1536))
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='ResizeEdge',
        scale=332,
        edge='short',
        backend='pillow',
        interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=300),
    dict(type='PackInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
