# Meta DeepBDC, stage 1: standard pretraining of ResNet-12 + BDC (640 -> 256)
# + dropout 0.6 + a linear classifier over the 351 base classes
# (DeepBDC scripts/tiered_imagenet/run_pretrain.sh): batch 64, SGD
# nesterov momentum 0.9, lr 0.05, temperature lr 1e-3, weight decay 1e-4,
# 100 epochs, x0.1 at 40 and 70; validated (from epoch 70) on 1,000 5-way
# 1-shot episodes of the val classes (prototype matching), best kept.
_base_ = [
    'mmpretrain::_base_/default_runtime.py',
    '../_base_/datasets/deepbdc_tiered-imagenet.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(type='DeepBDCResNet12'),
    neck=dict(
        type='BDCPooling',
        in_channels=640,
        reduced_channels=256,
        num_positions=100,  # 10 x 10 at 84 px: temperature log(1 / 200)
        dropout_rate=0.6),
    head=dict(
        type='LinearClsHead',
        num_classes=351,
        in_channels=32896,  # 256 x 257 / 2
        loss=dict(type='CrossEntropyLoss'),
        topk=(1, )))

optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.05, momentum=0.9, nesterov=True,
        weight_decay=1e-4),
    # the temperature's own learning rate (t_lr 1e-3 = 0.02 x 0.05)
    paramwise_cfg=dict(custom_keys={'neck.temperature': dict(lr_mult=0.02)}))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[40, 70], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=100, val_begin=70, val_interval=1)
val_cfg = dict(
    type='MetaValLoop',
    num_ways=5,
    num_shots=1,
    num_queries=15,
    num_episodes=1000,
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
        save_best='few_shot/accuracy',
        rule='greater'))
