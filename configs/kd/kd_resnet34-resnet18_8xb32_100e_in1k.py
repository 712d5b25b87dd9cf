# Hinton KD, ResNet-34 -> ResNet-18 on ImageNet-1k, with the benchmark's
# settings (mdistiller's configs/imagenet/r34_r18/kd.yaml): T = 1,
# 0.5 * CE + 0.5 * KD, 100 epochs, SGD momentum 0.9, weight decay 1e-4,
# lr x0.1 at epochs 30/60/90. mdistiller trains with batch 512 and lr 0.2;
# this config keeps the same lr per sample with batch 8 x 32 = 256 and
# lr 0.1, the WKD configs' recipe (auto_scale_lr rescales the lr for other
# total batch sizes). The teacher is torchvision's pretrained ResNet-34,
# converted as described in resnet34_8xb32_in1k.py.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    'mmpretrain::_base_/schedules/imagenet_bs256.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
# mdistiller's / WKD's trainer (mdistiller/engine/trainer.py) uses Nesterov
# momentum; mmpretrain's imagenet_bs256 schedule does not
optim_wrapper = dict(optimizer=dict(nesterov=True))
# the deployable student alone, {work_dir}/student_final.pth, after training
custom_hooks = [dict(type='StudentExportHook')]


def _classifier(backbone, channels, ce_weight=1.0):
    return dict(
        type='ImageClassifier',
        backbone=backbone,
        neck=dict(type='GlobalAveragePooling'),
        head=dict(
            type='LinearClsHead',
            num_classes=1000,
            in_channels=channels,
            loss=dict(type='CrossEntropyLoss', loss_weight=ce_weight),
            topk=(1, 5)))


model = dict(
    type='KDDistiller',
    student=_classifier(
        dict(type='ResNet', depth=18, out_indices=(3, ), style='pytorch'),
        512,
        ce_weight=0.5),
    teachers=dict(
        teacher=dict(
            model=_classifier(
                dict(
                    type='ResNet',
                    depth=34,
                    out_indices=(3, ),
                    style='pytorch'), 512),
            teacher_ckpt='checkpoints/resnet34_torchvision_in1k.pth')),
    recorders=dict(
        student=dict(logits='head.fc'), teacher=dict(logits='head.fc')),
    distill_losses=dict(loss_kd=dict(type='KDLoss', tau=1.0,
                                     loss_weight=0.5)),
    loss_inputs=dict(
        loss_kd=dict(preds_S='student.logits', preds_T='teacher.logits')))
