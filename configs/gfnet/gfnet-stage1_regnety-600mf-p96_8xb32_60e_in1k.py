# GFNet-RegNetY-600MF, patch 96, T = 5, stage 1 (warm-up, random patches).
# The authors' encoders are pycls' RegNetY-600MF (608 pooled channels):
# mmext's RegNetY. Bilinear glance; the glance step predicts with f_G's own
# head, later steps with the GRU classifier; the policy reads the state
# through a 1x1 conv (hidden 256). Recipe: SGD Nesterov, lr 0.02 encoders /
# 0.1 classifier, wd 5e-5, 60 epochs, deep supervision x1. mmpretrain has no
# ImageNet RegNetY: the encoders start from pycls' ImageNet model, converted
# with `tools/model_converters/gfnet2mmext.py RegNetY-600MF_dds_8gpu.pyth
# checkpoints/regnety-600mf_pycls-in1k.pth --encoder --config <this file>`.
_base_ = ['./gfnet-stage1_resnet50-p96_8xb32_60e_in1k.py']

model = dict(
    glance_interpolation='bilinear',
    glance_logits='encoder',
    global_encoder=dict(
        backbone=dict(_delete_=True, type='RegNetY', arch='regnety_600mf'),
        head=dict(in_channels=608),
        init_cfg=dict(
            checkpoint='checkpoints/regnety-600mf_pycls-in1k.pth')),
    classifier=dict(in_channels=608),
    policy=dict(in_channels=608, encoder='conv', hidden_dim=256))
optim_wrapper = dict(
    optimizer=dict(lr=0.02, weight_decay=5e-5),
    paramwise_cfg=dict(custom_keys={'classifier': dict(lr_mult=5.0)}))
# smoke runs: a two-stage RegNetY of 64 output channels, 16-pixel patches of
# 32-pixel images
smoke_model = dict(
    _delete_=True,
    patch_size=16,
    global_encoder=dict(
        backbone=dict(
            arch=dict(
                _delete_=True,
                w0=8,
                wa=8.0,
                wm=2.0,
                group_w=8,
                depth=6,
                bot_mul=1.0)),
        head=dict(in_channels=64)),
    classifier=dict(in_channels=64, hidden_dim=32),
    policy=dict(in_channels=64, hidden_dim=32))
