# mini-DomainNet (126 classes, 4 domains; Zhou et al., Dassl's
# MiniDomainNet): data/domainnet/{clipart,painting,real,sketch}/<class>/*.jpg
# and data/domainnet/splits_mini/<domain>_{train,test}.txt
# ("<domain>/<class>/<file> <label>"). Source: the source domain's train
# split; unlabelled target: the target's train split; test: the target's
# test split. The labels come from the split files; the class words below
# must follow their label order. This list is the 126-class DomainNet
# subset in the order of MME's class list (Saito et al.); its agreement
# with the label order of splits_mini was not checked here (no copy of the
# split files): compare with your copy before training.
classes = (
    'aircraft_carrier', 'alarm_clock', 'ant', 'anvil', 'asparagus', 'axe',
    'banana', 'basket', 'bathtub', 'bear', 'bee', 'bird', 'blackberry',
    'blueberry', 'bottlecap', 'broccoli', 'bus', 'butterfly', 'cactus',
    'cake', 'calculator', 'camel', 'camera', 'candle', 'cannon', 'canoe',
    'carrot', 'castle', 'cat', 'ceiling_fan', 'cello', 'cell_phone',
    'chair', 'chandelier', 'coffee_cup', 'compass', 'computer', 'cow',
    'crab', 'crocodile', 'cruise_ship', 'dog', 'dolphin', 'dragon',
    'drums', 'duck', 'dumbbell', 'elephant', 'eyeglasses', 'feather',
    'fence', 'fish', 'flamingo', 'flower', 'foot', 'fork', 'frog',
    'giraffe', 'goatee', 'grapes', 'guitar', 'hammer', 'helicopter',
    'helmet', 'horse', 'kangaroo', 'lantern', 'laptop', 'leaf', 'lion',
    'lipstick', 'lobster', 'microphone', 'monkey', 'mosquito', 'mouse',
    'mug', 'mushroom', 'onion', 'panda', 'peanut', 'pear', 'peas',
    'pencil', 'penguin', 'pig', 'pillow', 'pineapple', 'potato',
    'power_outlet', 'purse', 'rabbit', 'raccoon', 'rhinoceros', 'rifle',
    'saxophone', 'screwdriver', 'sea_turtle', 'see_saw', 'sheep', 'shoe',
    'skateboard', 'snake', 'speedboat', 'spider', 'squirrel', 'strawberry',
    'streetlight', 'string_bean', 'submarine', 'swan', 'table', 'teapot',
    'teddy-bear', 'television', 'The_Eiffel_Tower',
    'The_Great_Wall_of_China', 'tiger', 'toe', 'train', 'truck',
    'umbrella', 'vase', 'watermelon', 'whale', 'zebra')
data_root = 'data/domainnet/'
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
            ann_file='splits_mini/clipart_train.txt',
            data_prefix='',
            classes=classes,
            pipeline=train_pipeline),
        target=dict(
            type='CustomDataset',
            data_root=data_root,
            ann_file='splits_mini/painting_train.txt',
            data_prefix='',
            classes=classes,
            pipeline=train_pipeline),
        domains=('clipart', 'painting')))
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
            ann_file='splits_mini/painting_test.txt',
            data_prefix='',
            classes=classes,
            pipeline=test_pipeline),
        domains=('clipart', 'painting')))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
