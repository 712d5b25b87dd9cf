# EEKD, resnet32x4 -> resnet8x4 on CIFAR-100 with the paper's settings:
# M = 5 intermediate models of the teacher's training, weighted per sample
# by a self-attention module over the projected pooled features (256 -> 128
# for both networks), loss alpha * CE + (1 - alpha) * tau^2 * KL with
# alpha = 0.5, tau = 5; the KD-benchmark schedule (240 epochs, lr 0.05).
# Train the teacher first (it writes the snapshots read here):
#   python tools/train.py \
#       configs/eekd/eekd-teacher_resnet32x4_1xb64_240e_cifar100.py
_base_ = [
    'mmpretrain::_base_/default_runtime.py',
    '../_base_/datasets/cifar100_bs64_kd.py',
    '../_base_/schedules/cifar100_kd_240e.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
# the deployable student alone, {work_dir}/student_final.pth, after training
custom_hooks = [dict(type='StudentExportHook')]

alpha = 0.5


def _classifier(arch, ce_weight=1.0):
    return dict(
        type='ImageClassifier',
        backbone=dict(type='CIFARKDResNet', arch=arch),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(
            type='LinearClsHead',
            num_classes=100,
            in_channels=256,
            loss=dict(type='CrossEntropyLoss', loss_weight=ce_weight),
            topk=(1, 5)))


model = dict(
    type='EEKDDistiller',
    student=_classifier('resnet8x4', ce_weight=alpha),
    teacher=dict(model=_classifier('resnet32x4')),
    teacher_ckpts='work_dirs/eekd-teacher_resnet32x4_1xb64_240e_cifar100/'
    'snapshots',
    num_teachers=5,
    attention=dict(
        type='EnsembleAttention',
        student_channels=256,
        teacher_channels=256,
        embed_dims=128),
    ensemble_loss=dict(type='EnsembleKDLoss', tau=5.0, loss_weight=1 - alpha),
    logits_module='head.fc',
    feature_module='neck')
