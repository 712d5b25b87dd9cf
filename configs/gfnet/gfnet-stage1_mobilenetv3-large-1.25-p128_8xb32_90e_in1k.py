# GFNet-MobileNetV3-Large 1.25, patch 128, T = 3, stage 1: as MobileNetV3-Large
# 1.00 with gen-efficientnet's width-1.25 model (mmext's GenMobileNetV3;
# 1200 channels before the 1280-wide pre-logits layer). Neither mmpretrain nor
# timm publishes ImageNet weights for it: initialise the encoders from your
# own ImageNet MobileNetV3-Large 1.25 (the global one fine-tuned on 128 x 128
# inputs) through their init_cfg.
_base_ = ['./gfnet-stage1_mobilenetv3-large-p96_8xb32_90e_in1k.py']

model = dict(
    patch_size=128,
    global_encoder=dict(
        backbone=dict(_delete_=True, type='GenMobileNetV3', widen_factor=1.25),
        head=dict(in_channels=1200),
        init_cfg=None),
    policy=dict(in_channels=1200))
# smoke runs: width 0.25 (240 channels), a 64-channel pre-logits layer
smoke_model = dict(
    _delete_=True,
    patch_size=16,
    global_encoder=dict(
        backbone=dict(widen_factor=0.25),
        head=dict(in_channels=240, mid_channels=[64])),
    classifier=dict(in_channels=64),
    policy=dict(in_channels=240, hidden_dim=32))
