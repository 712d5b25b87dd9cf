# Hinton KD, WRN-40-2 -> ShuffleNetV1 on CIFAR-100, with the benchmark's
# settings (mdistiller's configs/cifar100/kd.yaml with the pair's lr 0.01, as
# in its dkd/wrn40_2_shuv1.yaml and CRD): T = 4, 0.1 * CE + 0.9 * KD.
# The teacher checkpoint comes from wrn-40-2_1xb64_240e_cifar100.py.
_base_ = ['./kd_resnet32x4-resnet8x4_1xb64_240e_cifar100.py']

model = dict(
    student=dict(
        backbone=dict(_delete_=True, type='CIFARShuffleNetV1'),
        head=dict(in_channels=960)),
    teachers=dict(
        teacher=dict(
            model=dict(
                backbone=dict(
                    _delete_=True, type='CIFARWideResNet', arch='wrn-40-2'),
                head=dict(in_channels=128)),
            teacher_ckpt='checkpoints/wrn-40-2_1xb64_240e_cifar100.pth')))
optim_wrapper = dict(optimizer=dict(lr=0.01))
