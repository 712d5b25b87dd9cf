# GCP MobileNetV2 with the 128-d head (the authors'
# MobileNetV2_GCP_LRnorm_128): 1x1 conv 1280 -> 128 + BN + ReLU6, 8,256-d
# into the classifier; LRnorm recipe.
_base_ = ['./gcp_mobilenet-v2_4xb24_lrnorm_in1k.py']

model = dict(neck=dict(reduced_channels=128), head=dict(in_channels=8256))
