# GFNet-MobileNetV3-Large 1.00, patch 128, T = 3, stage 1: as patch 96 (the
# policy state is 960 x 4 x 4). The frozen global encoder should be an
# ImageNet MobileNetV3 fine-tuned on 128 x 128 inputs (see the README).
_base_ = ['./gfnet-stage1_mobilenetv3-large-p96_8xb32_90e_in1k.py']

model = dict(patch_size=128)
