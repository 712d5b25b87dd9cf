# Meta DeepBDC on CUB, stage 2: episodic meta-training from the pretrained
# ResNet-18 model (DeepBDC scripts/cub/run_meta_deepbdc.sh): 5-way 1-shot, 16
# queries per class, 600 episodes per epoch, 60 epochs, SGD nesterov lr 1e-3
# (one group), weight decay 5e-4, x0.1 at 40; validation on 600 val episodes
# (best kept); test: 2,000 episodes of 15 queries, 5 runs.
_base_ = [
    'mmpretrain::_base_/default_runtime.py',
    '../_base_/datasets/deepbdc_cub.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
num_shots = 1

model = dict(
    type='EpisodicClassifier',
    backbone=dict(type='DeepBDCResNet18'),
    neck=dict(
        type='BDCPooling',
        in_channels=512,
        reduced_channels=256,
        num_positions=196),
    # inner product for 1-shot, negative squared distance otherwise
    head=dict(type='PrototypeHead', metric='auto'))
# the best checkpoint of deepbdc-meta_resnet18_pretrain-1xb64-400e_cub.py (its
# classifier is dropped on loading)
load_from = 'checkpoints/deepbdc-meta_resnet18_pretrain_cub.pth'

train_dataloader = dict(
    _delete_=True,
    batch_size=1,  # one episode per iteration
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='EpisodicSampler'),
    collate_fn=dict(type='episode_collate'),
    dataset=dict(
        type='EpisodicDataset',
        num_episodes=600,
        num_ways=5,
        num_shots=num_shots,
        num_queries=16,
        dataset=dict(
            type={{_base_.dataset_type}},
            data_root={{_base_.data_root}},
            split='train',
            pipeline={{_base_.train_pipeline}})))

optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=1e-3, momentum=0.9, nesterov=True,
        weight_decay=5e-4))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[40], gamma=0.1)
train_cfg = dict(type='MetaTrainLoop', max_epochs=60, val_interval=1)
val_cfg = dict(
    type='MetaValLoop',
    num_ways=5,
    num_shots=num_shots,
    num_queries=15,
    num_episodes=600)
test_cfg = dict(
    type='MetaTestLoop',
    num_ways=5,
    num_shots=num_shots,
    num_queries=15,
    num_episodes=2000,
    num_runs=5)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(
        type='CheckpointHook',
        interval=10,
        max_keep_ckpts=2,
        save_best='few_shot/accuracy',
        rule='greater'))
