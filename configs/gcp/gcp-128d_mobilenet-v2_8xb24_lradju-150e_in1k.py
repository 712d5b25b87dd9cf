# GCP MobileNetV2 with the 128-d head, LRadju (the authors'
# MobileNetV2_GCP_LRadju_128).
_base_ = ['./gcp_mobilenet-v2_8xb24_lradju-150e_in1k.py']

model = dict(neck=dict(reduced_channels=128), head=dict(in_channels=8256))
