# GCP ResNet-50 with the 128-d head (the authors' ResNet_MPNCOV_128,
# ResNet50_GCP_LRnorm_128): 1x1 conv 2048 -> 128 + BN + ReLU, 5 Newton-Schulz
# iterations, 8,256-d upper triangle into the classifier; LRnorm recipe.
_base_ = ['./gcp_resnet50_8xb32_lrnorm-100e_in1k.py']

model = dict(neck=dict(reduced_channels=128), head=dict(in_channels=8256))
