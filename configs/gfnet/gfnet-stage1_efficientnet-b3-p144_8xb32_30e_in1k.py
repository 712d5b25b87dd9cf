# GFNet-EfficientNet-B3 P144, T = 4, stage 1: as patch 128 (the policy state
# is 1536 x 5 x 5).
_base_ = ['./gfnet-stage1_efficientnet-b3-p128_8xb32_30e_in1k.py']

model = dict(patch_size=144)
