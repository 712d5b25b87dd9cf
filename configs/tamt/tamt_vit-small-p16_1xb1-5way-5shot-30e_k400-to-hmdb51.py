# TAMT 5-way 5-shot, Kinetics-400 source -> HMDB51 target (the authors'
# scripts/hmdb51/run_meta_deepbdc/run_metatrain.sh and run_test.sh): the
# VideoMAE ViT-S/16 pretrained on the 364 Kinetics source classes (16 x
# 112 x 112), frozen, with temporal-aware adapters in its last two blocks and
# the GTMT head; episodic fine-tuning on the target's base classes, 5-way
# 5-shot with 12 queries per class, 600 episodes per epoch, 30 epochs, Adam
# lr 1e-3 weight decay 5e-4, cosine annealing with the authors' hard-coded
# T_max of 80 epochs (eta_min 1e-7); the best of the 300 validation episodes
# per epoch is kept; test: 2,000 episodes of 15 queries, 5 runs
# (--test_task_nums 5). Prototype matching (negative squared distance for
# 5-shot, inner product for 1-shot).
_base_ = [
    'mmaction::_base_/default_runtime.py',
    '../_base_/datasets/tamt_few-shot-video_112.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
num_shots = 5
# the authors' pretrained ViT-S (VideoMAE self-supervised 400 epochs, then
# supervised 140 epochs on the 364 source classes), read by its content
pretrained = 'checkpoints/tamt_videomae-vit-small-p16_k400-364cls_112px.pth'

model = dict(
    type='EpisodicClassifier',
    backbone=dict(
        type='TAMTViT',
        img_size={{_base_.image_size}},
        num_frames={{_base_.num_frames}},
        adapter_indices=(10, 11),
        temporal_layout='authors',  # as their checkpoints; see the README
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(type='GTMTNeck', in_channels=384, num_segments=8),
    head=dict(type='PrototypeHead', metric='auto'),
    data_preprocessor={{_base_.data_preprocessor}})

train_dataloader = dict(
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
        num_queries=12,
        dataset=dict(
            type={{_base_.dataset_type}},
            data_root={{_base_.data_root}},
            split='train',
            split_format={{_base_.split_format}},
            pipeline={{_base_.train_pipeline}})))

optim_wrapper = dict(
    optimizer=dict(type='Adam', lr=1e-3, weight_decay=5e-4))
param_scheduler = dict(
    type='CosineAnnealingLR', by_epoch=True, T_max=80, eta_min=1e-7)
train_cfg = dict(type='MetaTrainLoop', max_epochs=30, val_interval=1)
val_cfg = dict(
    type='MetaValLoop',
    num_ways=5,
    num_shots=num_shots,
    num_queries=12,
    num_episodes=300)
test_cfg = dict(
    type='MetaTestLoop',
    num_ways=5,
    num_shots=num_shots,
    num_queries=15,
    num_episodes=2000,
    num_runs=5)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(
        type='CheckpointHook',
        interval=5,
        max_keep_ckpts=2,
        save_best='few_shot/accuracy',
        rule='greater'))
# smoke runs (mmext.testing.smoke) keep 32 x 32 frames: a 2 x 2 token grid
smoke_size_factor = 32 / 112
