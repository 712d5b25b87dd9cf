# MLKP on the ResNet-101 C4 Faster R-CNN, as the authors'
# models/ResNet/train.prototxt: res3b2 + res3b3 (concatenated) and
# res4b21 + res4b22 (summed) into the neck, a 1024-channel output without
# bias, RPN 3x3x512, RoI pooling 14x14, res5 (stride 2) as the shared head,
# average pooling and the 21 / 84 predictors. BN frozen; conv1 and res2
# frozen.
_base_ = './mlkp_faster-rcnn_vgg16.py'

norm_cfg = dict(type='BN', requires_grad=False)
pretrained = 'open-mmlab://detectron2/resnet101_caffe'
model = dict(
    data_preprocessor=dict(mean=[103.530, 116.280, 123.675]),
    backbone=dict(
        _delete_=True,
        type='ResNetLastBlocks',
        depth=101,
        num_stages=3,
        strides=(1, 2, 2),
        dilations=(1, 1, 1),
        out_indices=(1, 2),
        num_last_blocks=2,
        frozen_stages=1,
        norm_cfg=norm_cfg,
        norm_eval=True,
        style='caffe',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(
        in_channels=(512, 512, 1024, 1024),
        deep_fusion='sum',
        out_channels=1024,
        out_bias=False,
        last_proj_bias=True),
    rpn_head=dict(in_channels=1024),
    roi_head=dict(
        shared_head=dict(
            type='ResLayer',
            depth=101,
            stage=3,
            stride=2,
            dilation=1,
            style='caffe',
            norm_cfg=norm_cfg,
            norm_eval=True,
            init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
        bbox_roi_extractor=dict(
            roi_layer=dict(type='RoIPool', output_size=14),
            out_channels=1024),
        bbox_head=dict(
            _delete_=True,
            type='PyFasterRCNNBBoxHead',
            with_avg_pool=True,
            roi_feat_size=7,
            in_channels=2048,
            num_classes=20,
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[0., 0., 0., 0.],
                target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=False,
            loss_cls=dict(
                type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0))))
