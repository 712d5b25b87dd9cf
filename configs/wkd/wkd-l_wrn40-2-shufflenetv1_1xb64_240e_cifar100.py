# WKD-L, WRN-40-2 -> ShuffleNetV1 on CIFAR-100, with the authors' settings
# (configs/cifar100/wkd_l/wrn40_2_shuv1.yaml): lr 0.01, T = 6, gamma = 200,
# cost 1 - exp(-d) of d = 1 - linear CKA of the teacher's per-class
# features, Sinkhorn lambda 0.05 x 10, gamma cosine-decayed from epoch 150.
_base_ = ['./wkd-l_resnet32x4-resnet8x4_1xb64_240e_cifar100.py']

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
            teacher_ckpt='checkpoints/wrn-40-2_1xb64_240e_cifar100.pth')),
    distill_losses=dict(
        loss_wkd_l=dict(
            temperature=6.0,
            gamma=200.0,
            cost_matrix_file='checkpoints/wkd_cost_matrix/'
            'cifar100_wrn-40-2_linear_cka.pth')))
optim_wrapper = dict(optimizer=dict(lr=0.01))
