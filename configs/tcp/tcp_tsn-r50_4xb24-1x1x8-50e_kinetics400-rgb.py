# TCP (temporal-attentive covariance pooling) on TSN ResNet-50, 8 frames,
# Kinetics-400: the authors' script/K400/train_K400_TCP_TSN_8f_R50.sh (4 GPUs
# x 24 videos, SGD lr 0.015 momentum 0.9 wd 1e-4, x0.1 at epochs 20 and 40,
# 50 epochs, gradient norm clipped at 20, dropout 0.5, all BNs trained,
# parameters trained from scratch at 5x the lr) and test_models.py (full
# 256 x 256 frames, 3 crops, softmax, views fused by max).
# Initialisation: the authors' ImageNet GCP ResNet-50 (layer4 at stride 1,
# 2048 -> 256 -> 128 reduction), converted with
#   python tools/model_converters/tcp2mmext.py ImgeNet1K_GCP_R50.pth.tar \
#       checkpoints/tcp_gcp-r50_in1k.pth
# which loads the backbone and the head's reduction layers.
_base_ = ('mmaction::recognition/tsn/'
          'tsn_imagenet-pretrained-r50_8xb32-1x1x8-100e_kinetics400-rgb.py')
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

num_segments = 8
gcp_checkpoint = 'checkpoints/tcp_gcp-r50_in1k.pth'
model = dict(
    _delete_=True,
    type='Recognizer2D',
    backbone=dict(
        type='ResNet',
        depth=50,
        strides=(1, 2, 2, 1),  # a 14 x 14 map at 224 x 224
        pretrained=None,
        norm_eval=False,
        init_cfg=dict(
            type='Pretrained', checkpoint=gcp_checkpoint,
            prefix='backbone.')),
    cls_head=dict(
        type='TCPHead',
        num_classes=400,
        in_channels=2048,
        num_segments=num_segments,
        inner_channels=256,
        reduced_channels=128,
        num_iter=3,
        dropout_ratio=0.5,
        init_std=0.001,
        average_clips='prob',
        view_fusion='max',  # the authors'; 'mean' is mmaction2's
        init_cfg=dict(
            type='Pretrained', checkpoint=gcp_checkpoint,
            prefix='cls_head.')),
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        format_shape='NCHW'),
    train_cfg=None,
    test_cfg=None)

file_client_args = dict(io_backend='disk')
train_pipeline = [
    dict(type='DecordInit', **file_client_args),
    dict(type='SampleFrames', clip_len=1, frame_interval=1,
         num_clips=num_segments),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(
        type='MultiScaleCrop',
        input_size=224,
        scales=(1, 0.875, 0.75, 0.66),
        random_crop=False,
        max_wh_scale_gap=1),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='DecordInit', **file_client_args),
    dict(type='SampleFrames', clip_len=1, frame_interval=1,
         num_clips=num_segments, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
# the authors' 30 views: ten clips (offsets k / 10 within each segment)
# times three 256 x 256 crops of the full-resolution frames
test_pipeline = [
    dict(type='DecordInit', **file_client_args),
    dict(type='MultiOffsetSampleFrames', num_clips=num_segments,
         num_offsets=10),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='ThreeCrop', crop_size=256),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
train_dataloader = dict(
    batch_size=24, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=24, dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=50, val_begin=1, val_interval=1)
param_scheduler = [
    dict(
        type='MultiStepLR',
        begin=0,
        end=50,
        by_epoch=True,
        milestones=[20, 40],
        gamma=0.1)
]
# The authors' parameter groups (ops/models.py get_optim_policies, TCP_dim
# = pretrained_dim): BN scale/shift without decay; the temporal attention
# (trained from scratch) at lr_x_factor x lr, its weights and BN with decay,
# its biases without; the classifier's weight at lr_x_factor x, its bias at
# 2 lr_x_factor x without decay.
lr_x_factor = 5
scratch = dict(lr_mult=lr_x_factor)
scratch_bias = dict(lr_mult=lr_x_factor, decay_mult=0.0)
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.015, momentum=0.9, weight_decay=1e-4),
    clip_grad=dict(max_norm=20, norm_type=2),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        custom_keys={
            'cls_head.attention': scratch,
            'cls_head.attention.tsa.conv_prev1.bias': scratch_bias,
            'cls_head.attention.tsa.conv_prev2.bias': scratch_bias,
            'cls_head.attention.tsa.conv_cur.bias': scratch_bias,
            'cls_head.attention.tca.fc1.bias': scratch_bias,
            'cls_head.attention.tca.fc2.bias': scratch_bias,
            'cls_head.attention.temporal_conv.bias': scratch_bias,
            'cls_head.fc_cls.weight': scratch,
            'cls_head.fc_cls.bias': dict(
                lr_mult=2 * lr_x_factor, decay_mult=0.0),
        }))
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=3))
auto_scale_lr = dict(enable=False, base_batch_size=96)
