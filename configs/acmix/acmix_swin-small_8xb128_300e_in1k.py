# ACmix-Swin-S on ImageNet-1k at 224: the authors' recipe
# (Swin-Transformer/configs/acmix_swin_small_patch4_window7_224.yaml on Swin's
# trainer, 8 GPUs x 128) = mmpretrain's Swin recipe: AdamW, lr 1e-3 for batch
# 1024, wd 0.05, 20 warm-up epochs, cosine to 1e-5, 300 epochs, grad-norm
# clip 5, label smoothing 0.1, Mixup 0.8 / CutMix 1.0, RandAugment, random
# erasing; drop path 0.3.
_base_ = [
    'mmpretrain::_base_/models/swin_transformer/tiny_224.py',
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='ACmixSwinTransformer',
        arch='small',
        img_size=224,
        drop_path_rate=0.3))

train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128)
test_dataloader = dict(batch_size=128)
optim_wrapper = dict(clip_grad=dict(max_norm=5.0))
