# Position-wise GSoP-Net1 ResNet-50 on ImageNet-1k: the GSoP-Net1 recipe
# with the position block in the last bottleneck of all 4 stages (the
# authors' main.py --att_manner position --GSoP_mode 1): 1x1 conv C -> 128
# + BN at stride 1, 8 x 8 adaptive pooling, 64 x 64 covariance between the
# grid positions, row-wise conv 64 -> 256, 1x1 conv 256 -> 64, sigmoid,
# positions rescaled.
_base_ = ['./gsop-net1_resnet50_8xb48_95e_in1k.py']

model = dict(
    backbone=dict(
        gsop_cfg=dict(
            _delete_=True,
            type='GSoPPositionBlock',
            reduced_channels=128,
            pool_size=8),
        gsop_reduce_strides=(1, 1, 1, 1)))
