# GFNet-DenseNet-121, patch 96, T = 5, stage 1 (warm-up, random patches).
# The authors' encoders are torchvision's DenseNet-121 (1024 pooled
# channels); mmpretrain's DenseNet has the same parameters. Glance
# downsampling is bilinear for DenseNet; the GRU classifier, the MLP policy
# and the recipe are ResNet-50's (SGD Nesterov, lr 0.01 encoders / 0.1
# classifier, wd 1e-4, 60 epochs, deep supervision x1).
_base_ = ['./gfnet-stage1_resnet50-p96_8xb32_60e_in1k.py']

model = dict(
    glance_interpolation='bilinear',
    global_encoder=dict(
        backbone=dict(_delete_=True, type='mmpretrain.DenseNet', arch='121'),
        head=dict(in_channels=1024),
        init_cfg=dict(
            checkpoint='https://download.openmmlab.com/mmclassification/v0/'
            'densenet/densenet121_4xb256_in1k_20220426-07450f99.pth')),
    classifier=dict(in_channels=1024),
    policy=dict(in_channels=1024))
# smoke runs: a DenseNet of one layer per block (growth 8, 17 output
# channels), 32-pixel patches of 64-pixel images (DenseNet's average pools
# leave nothing of smaller patches)
smoke_size_factor = 64 / 224
smoke_model = dict(
    _delete_=True,
    patch_size=32,
    global_encoder=dict(
        backbone=dict(
            arch=dict(
                _delete_=True,
                growth_rate=8,
                depths=[1, 1, 1, 1],
                init_channels=16)),
        head=dict(in_channels=17)),
    classifier=dict(in_channels=17, hidden_dim=32),
    policy=dict(in_channels=17, hidden_dim=32))
