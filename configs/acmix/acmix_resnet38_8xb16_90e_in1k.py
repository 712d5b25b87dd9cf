# ACmix-ResNet-38 on ImageNet-1k: the authors' recipe (ResNet/main.py):
# SGD lr 0.1 for batch 128, momentum 0.9, weight decay 1e-4 on all
# parameters, 5 warmup epochs from lr / 4, per-iteration cosine to 0 at epoch
# 90, label smoothing 0.1, RandomResizedCrop 224 / Resize 256 + CenterCrop.
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    'mmpretrain::_base_/schedules/imagenet_bs256_coslr.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

# zero_init_residual=False: the authors' torchvision-style blocks start with
# a non-zero last BN.
model = dict(
    backbone=dict(
        type='ACmixResNet',
        depth=38,
        kernel_att=7,
        num_heads=4,
        kernel_conv=3,
        zero_init_residual=False),
    head=dict(
        # The authors spread eps over the other K - 1 classes, mmpretrain's
        # 'original' mode over all K: a 1e-4 difference in the targets.
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1,
                  mode='original')))

train_dataloader = dict(batch_size=16)
val_dataloader = dict(batch_size=16)
test_dataloader = dict(batch_size=16)

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.25,
        by_epoch=True,
        begin=0,
        end=5,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=85,
        eta_min=0.0,
        by_epoch=True,
        begin=5,
        end=90,
        convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=90, val_interval=1)
auto_scale_lr = dict(base_batch_size=128)
