# STL DeepBDC, generation 0: standard pretraining of ResNet-12 + BDC with a
# 640 -> 128 reduction (8,256-d) + dropout 0.5 + a linear classifier over the
# 351 base classes (DeepBDC scripts/tiered_imagenet/run_stl_deepbdc.sh):
# batch 64, SGD nesterov lr 0.05, temperature lr 1e-3, 90 epochs, x0.1 at 40
# and 70, last epoch kept (weight decay: 1e-4 as the tiered Meta pretraining;
# not listed for STL in our notes). Meta-test: logistic regression on
# L2-normalised features of the 5-way 1-shot support (C 0.05).
_base_ = [
    'mmpretrain::_base_/default_runtime.py',
    '../_base_/datasets/deepbdc_tiered-imagenet.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
num_shots = 1
lr_penalty = 0.05  # the authors' C: 0.05 for 1-shot, 30 for 5-shot

model = dict(
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
        in_channels=8256,  # 128 x 129 / 2
        loss=dict(type='CrossEntropyLoss'),
        topk=(1, )))

optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.05, momentum=0.9, nesterov=True,
        weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={'neck.temperature': dict(lr_mult=0.02)}))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[40, 70], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=90, val_interval=10)
val_cfg = dict(
    type='MetaValLoop',
    num_ways=5,
    num_shots=num_shots,
    num_queries=15,
    num_episodes=600,
    classifier=dict(type='LogisticRegressionHead', C=lr_penalty))
test_cfg = dict(
    type='MetaTestLoop',
    num_ways=5,
    num_shots=num_shots,
    num_queries=15,
    num_episodes=2000,
    num_runs=5,
    classifier=dict(type='LogisticRegressionHead', C=lr_penalty))
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=2))
