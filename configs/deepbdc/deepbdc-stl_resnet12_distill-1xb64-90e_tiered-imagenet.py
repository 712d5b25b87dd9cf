# STL DeepBDC, self-distillation generation k >= 1 (DeepBDC distillation.py):
# a freshly initialised student of the same architecture learns from the
# frozen generation k - 1 with 0.5 CE + 0.5 KD (T = 4, x T^2); same schedule
# as generation 0. The authors run 1 generation on tieredImageNet (DeepBDC
# issue #8): teacher_ckpt = the pretraining config's last checkpoint; test
# {work_dir}/student_final.pth with the 1-shot or 5-shot STL configs.
_base_ = ['./deepbdc-stl_resnet12_pretrain-1xb64-90e_tiered-imagenet.py']
custom_hooks = [dict(type='StudentExportHook')]


def _stl_model(ce_weight=1.0):
    return dict(
        type='ImageClassifier',
        backbone=dict(type='DeepBDCResNet12'),
        neck=dict(
            type='BDCPooling',
            in_channels=640,
            reduced_channels=128,
            num_positions=100,
            dropout_rate=0.5),
        head=dict(
            type='LinearClsHead',
            num_classes=351,
            in_channels=8256,
            loss=dict(type='CrossEntropyLoss', loss_weight=ce_weight),
            topk=(1, )))


model = dict(
    _delete_=True,
    type='KDDistiller',
    student=_stl_model(ce_weight=0.5),
    teachers=dict(
        teacher=dict(
            model=_stl_model(),
            teacher_ckpt='checkpoints/deepbdc-stl_resnet12_gen0_'
            'tiered-imagenet.pth')),
    recorders=dict(
        student=dict(logits='head.fc'), teacher=dict(logits='head.fc')),
    distill_losses=dict(loss_kd=dict(type='KDLoss', tau=4.0,
                                     loss_weight=0.5)),
    loss_inputs=dict(
        loss_kd=dict(preds_S='student.logits', preds_T='teacher.logits')))
# the distiller is not meta-tested; the exported student is
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
train_cfg = dict(val_interval=None)
