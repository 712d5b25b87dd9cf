# DAPL, ViT-B/16 CLIP (OpenAI weights, QuickGELU), mini-DomainNet s -> r (sketch -> real).
# Authors' recipe (LeapLabTHU/DAPrompt): 16 shared context
# tokens + 16 tokens per domain, N(0, 0.02); zero-shot pseudo-labels
# ("a photo of a {}.") with confidence >= 0.5, T = 1, U = 1; 32 + 32 images,
# SGD lr 3e-3, 25 epochs (see the schedule base for the per-iteration
# cosine). mmext evaluates the last checkpoint (the authors keep the best
# epoch on the target test set).
_base_ = [
    '../_base_/datasets/mini_domainnet_uda.py',
    '../_base_/schedules/dapl_sgd_coslr-25e.py',
    'mmpretrain::_base_/default_runtime.py'
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    type='DAPL',
    clip_cfg=dict(model_name='ViT-B-16-quickgelu', pretrained='openai'),
    classnames={{_base_.classes}},
    n_ctx=16,
    n_dmx=16,
    class_specific_ctx=False,
    pseudo_label_threshold=0.5,
    temperature=1.0,
    target_loss_weight=1.0)
# a checkpoint holds the frozen CLIP too: keep the last one
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=1))

source_domain, target_domain = 'sketch', 'real'
train_dataloader = dict(
    dataset=dict(
        source=dict(ann_file=f'splits_mini/{source_domain}_train.txt'),
        target=dict(ann_file=f'splits_mini/{target_domain}_train.txt'),
        domains=(source_domain, target_domain)))
val_dataloader = dict(
    dataset=dict(
        target=dict(ann_file=f'splits_mini/{target_domain}_test.txt'),
        domains=(source_domain, target_domain)))
test_dataloader = val_dataloader
