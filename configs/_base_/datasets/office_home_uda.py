# Office-Home for unsupervised domain adaptation, Dassl's layout (which the
# DAPL authors read): data/office_home/{art,clipart,product,real_world}/
# <Class_Folder>/*.jpg (the official archive's Art, Clipart, Product and
# "Real World" folders renamed). Labels follow the sorted class folders
# (str.sort: TV before Table); the class words are the lower-cased folder
# names (DAPL replaces the underscores by spaces). The pair configs set the
# source and target folders and the domain words.
classes = (
    'alarm_clock', 'backpack', 'batteries', 'bed', 'bike', 'bottle',
    'bucket', 'calculator', 'calendar', 'candles', 'chair', 'clipboards',
    'computer', 'couch', 'curtains', 'desk_lamp', 'drill', 'eraser',
    'exit_sign', 'fan', 'file_cabinet', 'flipflops', 'flowers', 'folder',
    'fork', 'glasses', 'hammer', 'helmet', 'kettle', 'keyboard', 'knives',
    'lamp_shade', 'laptop', 'marker', 'monitor', 'mop', 'mouse', 'mug',
    'notebook', 'oven', 'pan', 'paper_clip', 'pen', 'pencil',
    'postit_notes', 'printer', 'push_pin', 'radio', 'refrigerator',
    'ruler', 'scissors', 'screwdriver', 'shelf', 'sink', 'sneakers',
    'soda', 'speaker', 'spoon', 'tv', 'table', 'telephone', 'toothbrush',
    'toys', 'trash_can', 'webcam')
data_root = 'data/office_home/'
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
            data_prefix='art',
            classes=classes,
            pipeline=train_pipeline),
        target=dict(
            type='CustomDataset',
            data_root=data_root,
            data_prefix='clipart',
            classes=classes,
            pipeline=train_pipeline),
        domains=('art', 'clipart')))
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
            data_prefix='clipart',
            classes=classes,
            pipeline=test_pipeline),
        domains=('art', 'clipart')))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
