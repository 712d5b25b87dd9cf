# MobileNetV1 on ImageNet-1k with the KD benchmark's 100-epoch recipe (SGD,
# lr 0.1 for a total batch of 256, momentum 0.9, weight decay 1e-4, lr x0.1
# at epochs 30/60/90): the student of the ResNet-50 -> MobileNetV1 configs in
# kd/ and wkd/, and the plain classifier a distilled MobileNetV1 is deployed
# with (strip the teacher with tools/model_converters/strip_teacher.py).
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    'mmpretrain::_base_/schedules/imagenet_bs256.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(type='MobileNetV1'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=1024,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)))
