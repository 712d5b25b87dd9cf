# Faster R-CNN with an ECA-ResNet-50 FPN backbone on COCO (1x schedule).
# The backbone starts from the ImageNet ECA-R50 checkpoint converted with
# tools/model_converters/eca2mmext.py.
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='ECAResNet',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        style='pytorch',
        init_cfg=dict(
            type='Pretrained',
            prefix='backbone.',
            checkpoint='checkpoints/eca_resnet50_8xb32_100e_in1k.pth')))
