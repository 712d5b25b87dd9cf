# ACmix-ResNet-26 on ImageNet-1k: the ResNet-50 recipe (the authors'
# ResNet/main.py) with depth 26.
_base_ = './acmix_resnet50_8xb16_90e_in1k.py'

model = dict(backbone=dict(depth=26))
