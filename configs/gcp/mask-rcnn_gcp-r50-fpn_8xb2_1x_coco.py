# Mask R-CNN R50-FPN on COCO (1x) from the GCP-pretrained ResNet-50; the
# backbone set-up of faster-rcnn_gcp-r50-fpn_8xb2_1x_coco.py.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            prefix='backbone.',
            checkpoint='checkpoints/gcp_resnet50_8xb32_lrnorm-100e_in1k.pth')))
