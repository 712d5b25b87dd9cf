# AdaFocusV2 with the authors' ResNet-50 glance (--glance_arch res50): the
# global network is an ImageNet ResNet-50 on the frames resized to 96
# pixels (a 2048 x 3 x 3 map for the policy), the local network a ResNet-50
# on 128-pixel patches; otherwise as the MobileNetV2 glance (recipe, lr
# multipliers, 16 frames). 104,234,770 parameters (the authors' 108,332,770
# include the two ImageNet heads that never run); paper: 78.9 mAP at
# 34.1 GFLOPs (P96 / P160: 77.5 / 80.2 at 24.8 / 46.1).
_base_ = ['./adafocus-v2_mobilenetv2-r50-p128_4xb8-50e_activitynet.py']

model = dict(
    glance_size=96,
    global_channels=2048,
    global_backbone=dict(
        _delete_=True,
        type='mmaction.ResNet',
        depth=50,
        norm_eval=False,
        pretrained='torchvision://resnet50'),
    policy=dict(state_size=3))
# smoke runs: a ResNet-18 glance on 16-pixel frames (a 1x1 map)
smoke_model = dict(
    _delete_=True,
    patch_size=16,
    glance_size=16,
    global_channels=512,
    local_channels=512,
    global_backbone=dict(depth=18),
    local_backbone=dict(depth=18),
    policy=dict(state_size=1, hidden_dim=16),
    classifier=dict(hidden_dim=32))
