# mmpretrain's ResNet-50 on ImageNet (8 x 32 images, 100 epochs), saving
# EEKD's M = 5 intermediate models after epochs 20, 40, 60, 80, 100 in
#   work_dirs/eekd-teacher_resnet50_8xb32_100e_in1k/snapshots/
_base_ = ['mmpretrain::resnet/resnet50_8xb32_in1k.py']
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

custom_hooks = [dict(type='SnapshotHook', num_snapshots=5, by_epoch=True)]
