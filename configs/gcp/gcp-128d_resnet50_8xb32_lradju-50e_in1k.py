# GCP ResNet-50 with the 128-d head, LRadju (the authors'
# ResNet50_GCP_LRadju_128): the LRadju schedule of
# gcp_resnet50_8xb32_lradju-50e_in1k.py on the 128-d model of
# gcp-128d_resnet50_8xb32_lrnorm-100e_in1k.py.
_base_ = ['./gcp_resnet50_8xb32_lradju-50e_in1k.py']

model = dict(neck=dict(reduced_channels=128), head=dict(in_channels=8256))
