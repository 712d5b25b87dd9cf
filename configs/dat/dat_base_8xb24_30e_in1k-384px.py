# DAT-B fine-tuned at 384x384 from the 224 model, the authors' recipe
# (LeapLabTHU/DAT 566a593, configs/dat_base_384.yaml on Swin's trainer):
# window 12, 30 epochs, no warm-up, lr 2e-6 per 512 images (7.5e-7 at
# 8x24) cosine to 1e-7 per 512, weight decay 1e-8, grad-norm clip 5 (the
# trainer's default), stochastic depth 0.5, Swin's augmentation. The 224
# checkpoint's window and deformable bias tables are resized bicubically
# when it is loaded (DAT's `_load_from_state_dict` hooks, as the authors'
# `load_pretrained`). Test: the authors resize to int(256 / 224 * 384) =
# 438 and centre-crop 384 (TEST.CROP defaults to True).
_base_ = './dat_base_8xb128_300e_in1k.py'

model = dict(
    backbone=dict(img_size=384, window_size=12),
    init_cfg=dict(
        _delete_=True,
        type='Pretrained',
        checkpoint='checkpoints/dat_base_8xb128_300e_in1k.pth'))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=384,
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='RandAugment',
        policies='timm_increasing',
        num_policies=2,
        total_level=10,
        magnitude_level=9,
        magnitude_std=0.5,
        hparams=dict(pad_val=[104, 116, 124], interpolation='bicubic')),
    dict(
        type='RandomErasing',
        erase_prob=0.25,
        mode='rand',
        min_area_ratio=0.02,
        max_area_ratio=1 / 3,
        fill_color=[103.53, 116.28, 123.675],
        fill_std=[57.375, 57.12, 58.395]),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='ResizeEdge',
        scale=438,
        edge='short',
        backend='pillow',
        interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=384),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=24, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=24, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(
    optimizer=dict(lr=2e-6 * 192 / 512, weight_decay=1e-8),
    clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-7 * 192 / 512,
        by_epoch=True,
        begin=0,
        end=30,
        convert_to_iter_based=True)
]
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=1)
auto_scale_lr = dict(base_batch_size=192)
