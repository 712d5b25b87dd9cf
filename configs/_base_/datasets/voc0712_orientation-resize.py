# PASCAL VOC07+12 as MLKP's released code reads it: every image warped to
# exactly 1000 x 600 (landscape) or 600 x 1000 (portrait), aspect ratio not
# kept, for training and testing; horizontal flips in training. Otherwise
# voc0712_1xb1.py (mmdet's voc0712, one image per iteration).
_base_ = './voc0712_1xb1.py'

dataset_type = 'VOCDataset'
data_root = 'data/VOCdevkit/'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='OrientationResize', scale=(1000, 600)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='OrientationResize', scale=(1000, 600)),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
voc07 = dict(
    type=dataset_type,
    data_root=data_root,
    ann_file='VOC2007/ImageSets/Main/trainval.txt',
    data_prefix=dict(sub_data_root='VOC2007/'),
    filter_cfg=dict(filter_empty_gt=True, min_size=32, bbox_min_size=32),
    pipeline=train_pipeline)
voc12 = dict(
    voc07,
    ann_file='VOC2012/ImageSets/Main/trainval.txt',
    data_prefix=dict(sub_data_root='VOC2012/'))
train_dataloader = dict(
    dataset=dict(dataset=dict(datasets=[voc07, voc12])))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
