# GCP ResNet-18, LRnorm: the ResNet-50 recipe; the 1x1 reduction maps
# layer4's 512 channels to 256.
_base_ = ['./gcp_resnet50_8xb32_lrnorm-100e_in1k.py']

model = dict(
    backbone=dict(depth=18), neck=dict(in_channels=512))
