# GFNet-ResNet-50, patch 128, T = 5, stage 1: as patch 96 (the policy state
# is 2048 x 4 x 4, so its first linear layer is 32768 -> 2048).
_base_ = ['./gfnet-stage1_resnet50-p96_8xb32_60e_in1k.py']

model = dict(patch_size=128)
