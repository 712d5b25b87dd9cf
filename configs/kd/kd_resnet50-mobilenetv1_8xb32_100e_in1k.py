# Hinton KD, ResNet-50 -> MobileNetV1 on ImageNet-1k, with the benchmark's
# settings (mdistiller's configs/imagenet/r50_mv1/kd.yaml): T = 1,
# 0.5 * CE + 0.5 * KD; schedule as in kd_resnet34-resnet18_8xb32_100e_in1k.py
# (batch 256 / lr 0.1 for mdistiller's 512 / 0.2). The teacher is
# torchvision's pretrained ResNet-50, converted as described in
# resnet50_8xb32_in1k.py; the student is mmext's MobileNetV1
# (mobilenet-v1_8xb32_in1k.py).
_base_ = ['./kd_resnet34-resnet18_8xb32_100e_in1k.py']

model = dict(
    student=dict(
        backbone=dict(_delete_=True, type='MobileNetV1'),
        head=dict(in_channels=1024)),
    teachers=dict(
        teacher=dict(
            model=dict(backbone=dict(depth=50), head=dict(in_channels=2048)),
            teacher_ckpt='checkpoints/resnet50_torchvision_in1k.pth')))
