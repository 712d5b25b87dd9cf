# Meta DeepBDC on CUB, stage 1: standard pretraining of ResNet-18 (224 px,
# stride-1 last stage, 14 x 14) + BDC (512 -> 256) + dropout 0.6 + a linear
# classifier (DeepBDC scripts/cub/run_pretrain.sh): batch 64, SGD nesterov
# lr 0.05, temperature lr 5e-2, weight decay 5e-4, 400 epochs without decay,
# last epoch kept. The authors' code builds the classifier for 200 classes
# although the base split has 100 (kept: the parameter count matches theirs,
# 17,887,497). Validated every 10 epochs on 600 5-way 1-shot val episodes.
_base_ = [
    'mmpretrain::_base_/default_runtime.py',
    '../_base_/datasets/deepbdc_cub.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(type='DeepBDCResNet18'),
    neck=dict(
        type='BDCPooling',
        in_channels=512,
        reduced_channels=256,
        num_positions=196,  # 14 x 14 at 224 px: temperature log(1 / 392)
        dropout_rate=0.6),
    head=dict(
        type='LinearClsHead',
        num_classes=200,
        in_channels=32896,  # 256 x 257 / 2
        loss=dict(type='CrossEntropyLoss'),
        topk=(1, )))

optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.05, momentum=0.9, nesterov=True,
        weight_decay=5e-4),
    # the temperature's learning rate, t_lr 5e-2, is the base one here
)
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[401], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=400, val_interval=10)
val_cfg = dict(
    type='MetaValLoop',
    num_ways=5,
    num_shots=1,
    num_queries=15,
    num_episodes=600,
    classifier=dict(type='PrototypeHead'))
test_cfg = dict(
    type='MetaTestLoop',
    num_ways=5,
    num_shots=1,
    num_queries=15,
    num_episodes=2000,
    classifier=dict(type='PrototypeHead'))
default_hooks = dict(
    checkpoint=dict(
        type='CheckpointHook',
        interval=10,
        max_keep_ckpts=2,
        save_last=True))
