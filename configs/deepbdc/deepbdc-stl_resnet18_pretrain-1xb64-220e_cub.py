# STL DeepBDC on CUB, generation 0: standard pretraining of ResNet-18 (224
# px) + BDC with a 512 -> 128 reduction (8,256-d) + dropout 0.5 + a linear
# classifier for 200 classes as the authors' code (DeepBDC
# scripts/cub/run_stl_deepbdc.sh): batch 64, SGD nesterov lr 0.05,
# temperature lr 1e-3, weight decay 5e-4, 220 epochs, x0.1 at 120 and 170,
# last epoch kept. Meta-test: logistic regression (C 20) on L2-normalised
# features of the 5-way 1-shot support.
_base_ = [
    'mmpretrain::_base_/default_runtime.py',
    '../_base_/datasets/deepbdc_cub.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
num_shots = 1
lr_penalty = 20.0  # the authors' C for both shots

model = dict(
    type='ImageClassifier',
    backbone=dict(type='DeepBDCResNet18'),
    neck=dict(
        type='BDCPooling',
        in_channels=512,
        reduced_channels=128,
        num_positions=196,
        dropout_rate=0.5),
    head=dict(
        type='LinearClsHead',
        num_classes=200,
        in_channels=8256,  # 128 x 129 / 2
        loss=dict(type='CrossEntropyLoss'),
        topk=(1, )))

optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.05, momentum=0.9, nesterov=True,
        weight_decay=5e-4),
    paramwise_cfg=dict(custom_keys={'neck.temperature': dict(lr_mult=0.02)}))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[120, 170], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=220, val_interval=10)
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
