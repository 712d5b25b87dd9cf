# DAT-T on ImageNet-1k at 224: the authors' recipe (LeapLabTHU/DAT 566a593,
# configs/dat_tiny.yaml on Swin's trainer) = mmpretrain's Swin recipe:
# AdamW, lr 5e-4 per 512 images (1e-3 at 8x128), wd 0.05, 20 warm-up epochs,
# cosine to 1e-5, 300 epochs, grad-norm clip 5, label smoothing 0.1,
# Mixup 0.8 / CutMix 1.0, RandAugment, random erasing.
_base_ = [
    'mmpretrain::_base_/models/swin_transformer/tiny_224.py',
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True, type='DAT', arch='tiny', drop_path_rate=0.2),
    head=dict(in_channels=768),
    # the authors keep PyTorch's default initialisation (their
    # reset_parameters() matches no module); DAT initialises its bias tables
    init_cfg=None)

train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128)
test_dataloader = dict(batch_size=128)

optim_wrapper = dict(
    clip_grad=dict(max_norm=5.0),
    paramwise_cfg=dict(
        custom_keys={
            '.relative_position_bias_table': dict(decay_mult=0.0),
            '.rpe_table': dict(decay_mult=0.0),
        }))
