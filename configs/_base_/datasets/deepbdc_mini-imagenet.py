# miniImageNet, 64 / 16 / 20 classes: the DeepEMD / FEAT split
# (data/mini_imagenet/split/{train,val,test}.csv) over the raw-resolution
# ILSVRC-2012 images in data/mini_imagenet/images (not the 84 x 84 release:
# DeepBDC issues #4, #13). DeepBDC's augmentation and normalisation; 84 px.
dataset_type = 'MiniImageNet'
data_root = 'data/mini_imagenet'
num_base_classes = 64
image_size = 84
data_preprocessor = dict(
    num_classes=num_base_classes,
    mean=[120.36, 115.515, 104.55],  # [0.472, 0.453, 0.410] x 255
    std=[70.635, 68.34, 72.675],  # [0.277, 0.268, 0.285] x 255
    to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=image_size),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=92, edge='short'),  # 84 x 1.1
    dict(type='CenterCrop', crop_size=image_size),
    dict(type='PackInputs'),
]
# standard (pretraining) batches; episodic configs replace it
train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=train_pipeline))
# the meta-test reads each image of the split once and caches its feature
val_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        pipeline=test_pipeline))
val_evaluator = dict(type='FewShotAccuracy')
test_evaluator = val_evaluator
