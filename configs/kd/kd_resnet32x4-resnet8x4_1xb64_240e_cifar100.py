# Hinton KD, resnet32x4 -> resnet8x4 on CIFAR-100, with the benchmark's
# settings (mdistiller's KD config): T = 4, 0.1 * CE + 0.9 * KD.
# The teacher checkpoint comes from resnet32x4_1xb64_240e_cifar100.py.
_base_ = [
    'mmpretrain::_base_/default_runtime.py',
    '../_base_/datasets/cifar100_bs64_kd.py',
    '../_base_/schedules/cifar100_kd_240e.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
# the deployable student alone, {work_dir}/student_final.pth, after training
custom_hooks = [dict(type='StudentExportHook')]


def _classifier(arch, channels, ce_weight=1.0):
    return dict(
        type='ImageClassifier',
        backbone=dict(type='CIFARKDResNet', arch=arch),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(
            type='LinearClsHead',
            num_classes=100,
            in_channels=channels,
            loss=dict(type='CrossEntropyLoss', loss_weight=ce_weight),
            topk=(1, 5)))


model = dict(
    type='KDDistiller',
    student=_classifier('resnet8x4', 256, ce_weight=0.1),
    teachers=dict(
        teacher=dict(
            model=_classifier('resnet32x4', 256),
            teacher_ckpt='checkpoints/resnet32x4_1xb64_240e_cifar100.pth')),
    recorders=dict(
        student=dict(logits='head.fc'), teacher=dict(logits='head.fc')),
    distill_losses=dict(loss_kd=dict(type='KDLoss', tau=4.0,
                                     loss_weight=0.9)),
    loss_inputs=dict(
        loss_kd=dict(preds_S='student.logits', preds_T='teacher.logits')))
