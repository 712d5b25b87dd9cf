# So-ViT-14 on ImageNet-1k at 224: the authors' recipe (jiangtaoxie/So-ViT
# c2d076e, So_ViT_14.sh on timm's trainer) is DeiT's: AdamW, lr 1e-3 for
# 8x64 images, wd 0.05, 5 warm-up epochs from 1e-6, cosine to 1e-5, 300
# epochs, no grad clipping, label smoothing 0.1, Mixup 0.8 / CutMix 1.0,
# RandAugment, random erasing 0.25, stochastic depth 0.1.
_base_ = ['mmpretrain::deit/deit-small_4xb256_in1k.py']
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='SoViT',
        arch='14',
        img_size=224,
        drop_path_rate=0.1),
    head=dict(
        _delete_=True,
        type='SoViTHead',
        num_classes=1000,
        in_channels=384,
        reduced_channels=(64, 48),
        dropout=0.5,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')),
    # backbone and head carry the authors' initialisation
    init_cfg=None)

train_dataloader = dict(batch_size=64)
val_dataloader = dict(batch_size=64)
test_dataloader = dict(batch_size=64)

optim_wrapper = dict(
    optimizer=dict(lr=1e-3, weight_decay=0.05),
    clip_grad=None)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        end=5,
        convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=5)
]
auto_scale_lr = dict(base_batch_size=512)
