# TSN (3 segments) with an ECA-ResNet-50 backbone on Kinetics-400 RGB videos.
_base_ = ('mmaction::recognition/tsn/'
          'tsn_imagenet-pretrained-r50_8xb32-1x1x3-100e_kinetics400-rgb.py')
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        # The 'mmpretrain.' prefix tells Recognizer2D the backbone returns
        # a tuple of feature maps (mmpretrain's convention).
        type='mmpretrain.ECAResNet',
        depth=50,
        norm_eval=False,
        init_cfg=dict(
            type='Pretrained',
            prefix='backbone.',
            checkpoint='checkpoints/eca_resnet50_8xb32_100e_in1k.pth')))
