# TCP on TSM ResNet-50, 8 frames, Something-Something V1 (174 classes, JPEG
# frames read by mmaction2's RawframeDataset, see tools/data/sthv1). The
# authors run their TSM-based code with TSM's Something-Something recipe
# (opts.py defaults: lr 0.01 for 64 videos, weight decay 5e-4; x0.1 at
# epochs 20 and 40, 50 epochs); TCP's own choices as for Kinetics (gradient
# clipping 20, dropout 0.5, 5x lr for the parts trained from scratch, GCP
# init). Flipping swaps the left/right classes (mmaction2's label map).
# Test: 2 clips x 3 crops at 256, views fused by max.
_base_ = ['./tcp_tsm-r50_4xb24-1x1x8-50e_kinetics400-rgb.py']

model = dict(cls_head=dict(num_classes=174))

dataset_type = 'RawframeDataset'
data_root = 'data/sthv1/rawframes'
ann_file_train = 'data/sthv1/sthv1_train_list_rawframes.txt'
ann_file_val = 'data/sthv1/sthv1_val_list_rawframes.txt'
file_client_args = dict(io_backend='disk')
sthv1_flip_label_map = {2: 4, 4: 2, 30: 41, 41: 30, 52: 66, 66: 52}
train_pipeline = [
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=8),
    dict(type='RawFrameDecode', **file_client_args),
    dict(type='Resize', scale=(-1, 256)),
    dict(
        type='MultiScaleCrop',
        input_size=224,
        scales=(1, 0.875, 0.75, 0.66),
        random_crop=False,
        max_wh_scale_gap=1,
        num_fixed_crops=13),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5, flip_label_map=sthv1_flip_label_map),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=8,
         test_mode=True),
    dict(type='RawFrameDecode', **file_client_args),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
test_pipeline = [
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=8,
         twice_sample=True, test_mode=True),
    dict(type='RawFrameDecode', **file_client_args),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='ThreeCrop', crop_size=256),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
train_dataloader = dict(
    batch_size=16,
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        ann_file=ann_file_train,
        data_prefix=dict(img=data_root),
        filename_tmpl='{:05}.jpg',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        ann_file=ann_file_val,
        data_prefix=dict(img=data_root),
        filename_tmpl='{:05}.jpg',
        pipeline=val_pipeline,
        test_mode=True))
test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        ann_file=ann_file_val,
        data_prefix=dict(img=data_root),
        filename_tmpl='{:05}.jpg',
        pipeline=test_pipeline,
        test_mode=True))

optim_wrapper = dict(optimizer=dict(lr=0.01, weight_decay=5e-4))
auto_scale_lr = dict(enable=False, base_batch_size=64)
