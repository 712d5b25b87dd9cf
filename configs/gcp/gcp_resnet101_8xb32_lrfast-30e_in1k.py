# GCP ResNet-101, LRfast: the ResNet-50 LRfast config with a deeper
# backbone.
_base_ = ['./gcp_resnet50_8xb32_lrfast-30e_in1k.py']

model = dict(backbone=dict(depth=101))
