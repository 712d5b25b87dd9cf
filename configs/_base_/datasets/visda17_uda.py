# VisDA-2017 classification, synthetic -> real: data/visda17/train/ (the
# synthetic renderings) and data/visda17/validation/ (real images, the
# target), each with the official image_list.txt ("<class>/<file> <label>").
# The target's validation images are both the unlabelled training target
# and the test set, as in the authors' code. VisDA reports the mean of the
# per-class accuracies (macro recall).
classes = (
    'aeroplane', 'bicycle', 'bus', 'car', 'horse', 'knife', 'motorcycle',
    'person', 'plant', 'skateboard', 'train', 'truck')
data_root = 'data/visda17/'
# CLIP's input: 224 x 224, bicubic; train random_resized_crop + random_flip
# (the trainer yaml's transforms), test resize of the short side + center
# crop (Dassl's test transform); normalisation in the model's
# UDADataPreprocessor (CLIP's mean and std)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=224,
        crop_ratio_range=(0.08, 1.0),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='ResizeEdge',
        scale=224,
        edge='short',
        backend='pillow',
        interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]

# 32 source + 32 target images per iteration (UDASampler: an epoch is one
# pass over the source, the target reshuffled whenever it runs out)
train_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='UDASampler', length='source'),
    dataset=dict(
        type='UDADataset',
        source=dict(
            type='CustomDataset',
            data_root=data_root,
            ann_file='train/image_list.txt',
            data_prefix='train',
            classes=classes,
            pipeline=train_pipeline),
        target=dict(
            type='CustomDataset',
            data_root=data_root,
            ann_file='validation/image_list.txt',
            data_prefix='validation',
            classes=classes,
            pipeline=train_pipeline),
        domains=('synthetic', 'real')))
val_dataloader = dict(
    batch_size=128,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='UDADataset',
        target=dict(
            type='CustomDataset',
            data_root=data_root,
            ann_file='validation/image_list.txt',
            data_prefix='validation',
            classes=classes,
            pipeline=test_pipeline),
        domains=('synthetic', 'real')))
val_evaluator = [
    dict(type='Accuracy', topk=(1, )),
    dict(type='SingleLabelMetric', items=('recall', ), average='macro')
]
test_dataloader = val_dataloader
test_evaluator = val_evaluator
