# GCP ResNet-50 on ImageNet-1k, LRnorm (Wang et al., CVPR 2020; authors'
# code ZhangLi-CS/GCP_Optimization src/main.py): batch 256, SGD lr 0.1,
# momentum 0.9, weight decay 1e-4, x0.1 every 30 epochs, 100 epochs. The GCP
# head is iSQRT-COV's: layer4 at stride 1, 1x1 conv 2048 -> 256 + BN + ReLU,
# 5 Newton-Schulz iterations, 32,896-d upper triangle into the classifier.
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    'mmpretrain::_base_/schedules/imagenet_bs256.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    backbone=dict(strides=(1, 2, 2, 1)),
    neck=dict(
        _delete_=True,
        type='ISQRTCOVNeck',
        in_channels=2048,
        reduced_channels=256,
        num_iter=5),
    head=dict(in_channels=32896))

param_scheduler = dict(
    _delete_=True, type='StepLR', by_epoch=True, step_size=30, gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=1)
