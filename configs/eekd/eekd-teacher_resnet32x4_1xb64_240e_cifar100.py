# The resnet32x4 teacher on CIFAR-100 (KD-benchmark recipe, 240 epochs),
# saving the M = 5 intermediate models of EEKD uniformly over its training:
# after epochs 48, 96, 144, 192 and 240, as
#   work_dirs/eekd-teacher_resnet32x4_1xb64_240e_cifar100/snapshots/
#       snapshot_epoch_{48,96,144,192,240}.pth
# (the directory the EEKD configs read).
_base_ = ['../kd/resnet32x4_1xb64_240e_cifar100.py']

custom_hooks = [dict(type='SnapshotHook', num_snapshots=5, by_epoch=True)]
