# GCP ResNet-101, LRnorm: the ResNet-50 recipe with a deeper backbone.
_base_ = ['./gcp_resnet50_8xb32_lrnorm-100e_in1k.py']

model = dict(backbone=dict(depth=101))
