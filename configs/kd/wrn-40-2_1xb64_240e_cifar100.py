# WRN-40-2 on CIFAR-100 with the KD-benchmark recipe (a teacher).
_base_ = ['./resnet32x4_1xb64_240e_cifar100.py']

model = dict(
    backbone=dict(_delete_=True, type='CIFARWideResNet', arch='wrn-40-2'),
    head=dict(in_channels=128))
