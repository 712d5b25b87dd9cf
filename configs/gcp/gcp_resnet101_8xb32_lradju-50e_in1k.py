# GCP ResNet-101, LRadju: the ResNet-50 LRadju config with a deeper
# backbone.
_base_ = ['./gcp_resnet50_8xb32_lradju-50e_in1k.py']

model = dict(backbone=dict(depth=101))
