# GFNet-DenseNet-201 P96, T = 5, stage 1: as DenseNet-121 with 1920 pooled
# channels.
_base_ = ['./gfnet-stage1_densenet121-p96_8xb32_60e_in1k.py']

model = dict(
    global_encoder=dict(
        backbone=dict(arch='201'),
        head=dict(in_channels=1920),
        init_cfg=dict(
            checkpoint='https://download.openmmlab.com/mmclassification/v0/'
            'densenet/densenet201_4xb256_in1k_20220426-05cae4ef.pth'
        )),
    classifier=dict(in_channels=1920),
    policy=dict(in_channels=1920))
