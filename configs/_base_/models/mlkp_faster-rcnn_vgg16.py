# MLKP (Wang et al., CVPR 2018) on the VGG16 Faster R-CNN of py-faster-rcnn,
# as the authors' models/VGG16/train.prototxt: stride-16 output of the MLKP
# neck, RPN 3x3x512 with 9 anchors and softmax scores, RoI pooling 7x7,
# fc6-fc7 4096 with dropout, class-specific deltas for 21 classes (84).
# Corrected mode ('fixed'); the faithful configs set mode='faithful'.
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
model = dict(
    type='FasterRCNN',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        # Caffe: BGR input minus the pixel means, no scaling
        mean=[102.9801, 115.9465, 122.7717],
        std=[1.0, 1.0, 1.0],
        bgr_to_rgb=False,
        pad_size_divisor=1),
    backbone=dict(
        type='VGG16Caffe',
        out_layers=('conv4_2', 'conv4_3', 'conv5_2', 'conv5_3'),
        frozen_stages=2,
        init_cfg=dict(
            type='Pretrained', checkpoint='open-mmlab://vgg16_caffe')),
    neck=dict(
        type='MLKPNeck',
        in_channels=(512, 512, 512, 512),
        shallow_fusion='concat',
        deep_fusion='concat',
        fusion_channels=1024,
        kernel_channels=(2048, 4096),
        proj_channels=256,
        out_channels=512,
        out_bias=True,
        mode='fixed'),
    rpn_head=dict(
        type='RPNHead',
        in_channels=512,
        feat_channels=512,
        anchor_generator=dict(
            type='AnchorGenerator',
            scales=[8, 16, 32],
            ratios=[0.5, 1.0, 2.0],
            strides=[16]),
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[.0, .0, .0, .0],
            target_stds=[1.0, 1.0, 1.0, 1.0]),
        loss_cls=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
        # py-faster-rcnn's smooth L1 with sigma 3
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0 / 9.0, loss_weight=1.0)),
    roi_head=dict(
        type='StandardRoIHead',
        # Caffe's RoI max pooling (torchvision's kernels: mmcv's RoIPool
        # has no CPU kernel)
        bbox_roi_extractor=dict(
            type='TorchvisionRoIExtractor',
            roi_layer=dict(type='RoIPool', output_size=7),
            out_channels=512,
            featmap_strides=[16]),
        bbox_head=dict(
            type='PyFasterRCNNShared2FCBBoxHead',
            in_channels=512,
            fc_out_channels=4096,
            roi_feat_size=7,
            num_classes=20,
            dropout_ratio=0.5,
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[0., 0., 0., 0.],
                target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=False,
            loss_cls=dict(
                type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0))),
    train_cfg=dict(
        rpn=dict(
            assigner=dict(
                type='MaxIoUAssigner',
                pos_iou_thr=0.7,
                neg_iou_thr=0.3,
                min_pos_iou=0.3,
                match_low_quality=True,
                ignore_iof_thr=-1),
            sampler=dict(
                type='RandomSampler',
                num=256,
                pos_fraction=0.5,
                neg_pos_ub=-1,
                add_gt_as_proposals=False),
            allowed_border=0,
            pos_weight=-1,
            debug=False),
        rpn_proposal=dict(
            nms_pre=12000,
            max_per_img=2000,
            nms=dict(type='nms', iou_threshold=0.7),
            min_bbox_size=0),
        rcnn=dict(
            assigner=dict(
                type='MaxIoUAssigner',
                pos_iou_thr=0.5,
                neg_iou_thr=0.5,
                min_pos_iou=0.5,
                match_low_quality=False,
                ignore_iof_thr=-1),
            sampler=dict(
                type='RandomSampler',
                num=128,
                pos_fraction=0.25,
                neg_pos_ub=-1,
                add_gt_as_proposals=True),
            pos_weight=-1,
            debug=False)),
    test_cfg=dict(
        rpn=dict(
            nms_pre=6000,
            max_per_img=300,
            nms=dict(type='nms', iou_threshold=0.7),
            min_bbox_size=0),
        # the authors' test: per-class NMS 0.3, scores >= 0.001, 400 boxes
        rcnn=dict(
            score_thr=0.001,
            nms=dict(type='nms', iou_threshold=0.3),
            max_per_img=400)))
# smoke runs (mmext.testing.shrink_config): images large enough to hold
# the smallest anchor (128 px) inside the border, as allowed_border=0 needs
smoke_size_factor = 0.25
