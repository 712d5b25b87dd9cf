# GFNet-DenseNet-169 P96, T = 5, stage 1: as DenseNet-121 with 1664 pooled
# channels.
_base_ = ['./gfnet-stage1_densenet121-p96_8xb32_60e_in1k.py']

model = dict(
    global_encoder=dict(
        backbone=dict(arch='169'),
        head=dict(in_channels=1664),
        init_cfg=dict(
            checkpoint='https://download.openmmlab.com/mmclassification/v0/'
            'densenet/densenet169_4xb256_in1k_20220426-a2889902.pth'
        )),
    classifier=dict(in_channels=1664),
    policy=dict(in_channels=1664))
