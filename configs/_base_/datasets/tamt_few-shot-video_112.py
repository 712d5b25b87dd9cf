# Few-shot video splits as TAMT reads them: CloserLook-style
# {base,val,novel}.json under data_root (the authors' filelist/<target>/
# files; "image_names" are video paths, relative to data_root or absolute),
# 16 frames by TSN segment sampling, 112 x 112, ImageNet mean / std.
# Test clips are deterministic (middle of each segment, centre crop): the
# authors' test episodes are randomly augmented (their SubDataset_JSON builds
# every split in 'train' mode), see configs/tamt/README.md.
dataset_type = 'FewShotVideoDataset'
data_root = 'data/hmdb51'
split_format = 'json'
num_frames = 16
image_size = 112
data_preprocessor = dict(
    type='mmaction.ActionDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    format_shape='NCTHW')
file_client_args = dict(io_backend='disk')
train_pipeline = [
    dict(type='DecordInit', **file_client_args),
    dict(type='UniformSample', clip_len=num_frames, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 128)),
    dict(type='RandomResizedCrop', area_range=(0.08, 1.0)),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
test_pipeline = [
    dict(type='DecordInit', **file_client_args),
    dict(
        type='UniformSample',
        clip_len=num_frames,
        num_clips=1,
        test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 128)),
    dict(type='CenterCrop', crop_size=image_size),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
# the meta-test reads each clip of the split once and caches its feature
val_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        split_format=split_format,
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        split_format=split_format,
        pipeline=test_pipeline))
val_evaluator = dict(type='FewShotAccuracy')
test_evaluator = val_evaluator
