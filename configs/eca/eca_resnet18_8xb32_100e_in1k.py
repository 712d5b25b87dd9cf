# ECA-ResNet-18 on ImageNet-1k: the authors' recipe (SGD, lr 0.1 for batch
# 256, x0.1 every 30 epochs, 100 epochs, 224x224 crops).
_base_ = [
    'mmpretrain::_base_/models/resnet18.py',
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    'mmpretrain::_base_/schedules/imagenet_bs256.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

# zero_init_residual=False: the authors' torchvision-style blocks start with
# a non-zero last BN.
model = dict(
    backbone=dict(type='ECAResNet', depth=18, zero_init_residual=False))
