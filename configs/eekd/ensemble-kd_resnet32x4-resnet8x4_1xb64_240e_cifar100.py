# Baseline of EEKD: distillation from a standard ensemble of M = 5
# independently trained resnet32x4 teachers (uniform average of their
# softened outputs), same loss and schedule as
# eekd_resnet32x4-resnet8x4_1xb64_240e_cifar100.py. Train the teachers with
# five seeds first, e.g. for i in 0 1 2 3 4:
#   python tools/train.py configs/kd/resnet32x4_1xb64_240e_cifar100.py \
#       --work-dir work_dirs/resnet32x4_1xb64_240e_cifar100_seed$i \
#       --cfg-options randomness.seed=$i
_base_ = ['./eekd_resnet32x4-resnet8x4_1xb64_240e_cifar100.py']

model = dict(
    teacher_ckpts=[
        f'work_dirs/resnet32x4_1xb64_240e_cifar100_seed{i}/epoch_240.pth'
        for i in range(5)
    ],
    attention=None)
