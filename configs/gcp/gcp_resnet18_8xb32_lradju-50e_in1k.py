# GCP ResNet-18, LRadju: the ResNet-50 LRadju config with the ResNet-18
# model of gcp_resnet18_8xb32_lrnorm-100e_in1k.py.
_base_ = ['./gcp_resnet50_8xb32_lradju-50e_in1k.py']

model = dict(backbone=dict(depth=18), neck=dict(in_channels=512))
