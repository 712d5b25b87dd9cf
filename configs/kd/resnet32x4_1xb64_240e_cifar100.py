# resnet32x4 on CIFAR-100 with the KD-benchmark recipe: the teacher of the
# kd/ and wkd/ configs, and the plain classifier a distilled resnet8x4 is
# deployed with (see resnet8x4_1xb64_240e_cifar100.py).
_base_ = [
    'mmpretrain::_base_/default_runtime.py',
    '../_base_/datasets/cifar100_bs64_kd.py',
    '../_base_/schedules/cifar100_kd_240e.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(type='CIFARKDResNet', arch='resnet32x4'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=100,
        in_channels=256,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)))
