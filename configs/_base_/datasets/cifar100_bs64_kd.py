# CIFAR-100 as in the KD benchmark (CRD / mdistiller / WKD): 32x32, random
# crop with 4-pixel padding, horizontal flip, mdistiller's normalisation,
# batch 64 on one GPU. data/cifar100/cifar-100-python/ holds the official
# python pickles (mmpretrain's CIFAR100 downloads them when missing).
dataset_type = 'CIFAR100'
data_preprocessor = dict(
    num_classes=100,
    # (0.5071, 0.4867, 0.4408) / (0.2675, 0.2565, 0.2761) times 255
    mean=[129.311, 124.109, 112.404],
    std=[68.213, 65.408, 70.406],
    # CIFAR images are loaded as RGB already
    to_rgb=False)

train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=64,
    num_workers=4,
    dataset=dict(
        type=dataset_type,
        data_root='data/cifar100',
        split='train',
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=64,
    num_workers=4,
    dataset=dict(
        type=dataset_type,
        data_root='data/cifar100',
        split='test',
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
