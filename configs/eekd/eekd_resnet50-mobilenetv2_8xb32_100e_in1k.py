# EEKD, ResNet-50 -> MobileNetV2 on ImageNet (mmpretrain's models, the same
# 8 x 32, 100-epoch recipe as ResNet-34 -> ResNet-18): M = 5 intermediate
# models of the teacher, self-attention weights over the projected pooled
# features (1280 / 2048 -> 128), alpha = 0.5, tau = 5.
# Train the teacher first (it writes the snapshots read here):
#   bash tools/dist_train.sh \
#       configs/eekd/eekd-teacher_resnet50_8xb32_100e_in1k.py 8
_base_ = ['./eekd_resnet34-resnet18_8xb32_100e_in1k.py']

model = dict(
    student=dict(
        backbone=dict(_delete_=True, type='MobileNetV2', widen_factor=1.0),
        head=dict(in_channels=1280)),
    teacher=dict(
        model=dict(backbone=dict(depth=50), head=dict(in_channels=2048))),
    teacher_ckpts='work_dirs/eekd-teacher_resnet50_8xb32_100e_in1k/snapshots',
    attention=dict(student_channels=1280, teacher_channels=2048))
