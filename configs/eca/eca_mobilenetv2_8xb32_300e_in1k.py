# ECA-MobileNetV2 on ImageNet-1k with mmpretrain's MobileNetV2 recipe (SGD,
# lr 0.045, x0.98 per epoch, weight decay 4e-5).
_base_ = [
    'mmpretrain::_base_/models/mobilenet_v2_1x.py',
    'mmpretrain::_base_/datasets/imagenet_bs32_pil_resize.py',
    'mmpretrain::_base_/schedules/imagenet_bs256_epochstep.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(backbone=dict(type='ECAMobileNetV2', widen_factor=1.0))
