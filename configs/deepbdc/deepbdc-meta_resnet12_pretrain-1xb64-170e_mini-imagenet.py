# Meta DeepBDC, stage 1: standard pretraining of ResNet-12 + BDC (640 -> 640,
# no reduction layer) + dropout 0.8 + a linear classifier over the 64 base
# classes (DeepBDC scripts/mini_imagenet/run_pretrain.sh): batch 64, SGD
# nesterov momentum 0.9, lr 0.05, temperature lr 1e-3, weight decay 5e-4,
# 170 epochs, x0.1 at 100 and 150; validated on 600 5-way 1-shot episodes of
# the val classes (prototype matching), the best epoch kept.
_base_ = [
    'mmpretrain::_base_/default_runtime.py',
    '../_base_/datasets/deepbdc_mini-imagenet.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(type='DeepBDCResNet12'),
    neck=dict(
        type='BDCPooling',
        in_channels=640,
        reduced_channels=640,
        num_positions=100,  # 10 x 10 at 84 px: temperature log(1 / 200)
        dropout_rate=0.8),
    head=dict(
        type='LinearClsHead',
        num_classes=64,
        in_channels=205120,  # 640 x 641 / 2
        loss=dict(type='CrossEntropyLoss'),
        topk=(1, )))

optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.05, momentum=0.9, nesterov=True,
        weight_decay=5e-4),
    # the temperature's own learning rate (t_lr 1e-3 = 0.02 x 0.05)
    paramwise_cfg=dict(custom_keys={'neck.temperature': dict(lr_mult=0.02)}))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[100, 150], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=170, val_interval=1)
val_cfg = dict(
    type='MetaValLoop',
    num_ways=5,
    num_shots=1,
    num_queries=15,
    num_episodes=600,
    classifier=dict(type='PrototypeHead'),
    # 205,120-d features: half precision halves the cache (9,600 images)
    cache_dtype='float16')
test_cfg = dict(
    type='MetaTestLoop',
    num_ways=5,
    num_shots=1,
    num_queries=15,
    num_episodes=2000,
    classifier=dict(type='PrototypeHead'),
    cache_dtype='float16')
default_hooks = dict(
    checkpoint=dict(
        type='CheckpointHook',
        interval=10,
        max_keep_ckpts=2,
        save_best='few_shot/accuracy',
        rule='greater'))
