# EEKD, ResNet-34 -> ResNet-18 on ImageNet (mmpretrain's ResNets and its
# standard 8 x 32, 100-epoch recipe): M = 5 intermediate models of the
# teacher, self-attention weights over the projected pooled features
# (512 -> 128), alpha = 0.5, tau = 5.
# Train the teacher first (it writes the snapshots read here):
#   bash tools/dist_train.sh \
#       configs/eekd/eekd-teacher_resnet34_8xb32_100e_in1k.py 8
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    'mmpretrain::_base_/schedules/imagenet_bs256.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
# the deployable student alone, {work_dir}/student_final.pth, after training
custom_hooks = [dict(type='StudentExportHook')]

alpha = 0.5


def _resnet(depth, channels, ce_weight=1.0):
    return dict(
        type='ImageClassifier',
        backbone=dict(
            type='ResNet',
            depth=depth,
            num_stages=4,
            out_indices=(3, ),
            style='pytorch'),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(
            type='LinearClsHead',
            num_classes=1000,
            in_channels=channels,
            loss=dict(type='CrossEntropyLoss', loss_weight=ce_weight),
            topk=(1, 5)))


model = dict(
    type='EEKDDistiller',
    student=_resnet(18, 512, ce_weight=alpha),
    teacher=dict(model=_resnet(34, 512)),
    teacher_ckpts='work_dirs/eekd-teacher_resnet34_8xb32_100e_in1k/snapshots',
    num_teachers=5,
    attention=dict(
        type='EnsembleAttention',
        student_channels=512,
        teacher_channels=512,
        embed_dims=128),
    ensemble_loss=dict(type='EnsembleKDLoss', tau=5.0, loss_weight=1 - alpha),
    logits_module='head.fc',
    feature_module='neck')
