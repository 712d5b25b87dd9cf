# Faster R-CNN R50-FPN on COCO (1x) from the GCP-pretrained ResNet-50 (Wang
# et al., CVPR 2020, Sec. 5.4; the authors transfer with mmdetection). Only
# the backbone's weights are used: the GCP head is dropped and layer4 is
# built at stride 2 as in every mmdet ResNet (the pretrained convolutions
# have the same shapes at any stride), so FPN sees strides 4-32.
# checkpoints/gcp_resnet50_8xb32_lrnorm-100e_in1k.pth is an mmext checkpoint
# trained from configs/gcp/gcp_resnet50_8xb32_lrnorm-100e_in1k.py or the
# authors' ResNet50_GCP_LRnorm converted with
# tools/model_converters/isqrt_cov2mmext.py.
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            prefix='backbone.',
            checkpoint='checkpoints/gcp_resnet50_8xb32_lrnorm-100e_in1k.pth')))
