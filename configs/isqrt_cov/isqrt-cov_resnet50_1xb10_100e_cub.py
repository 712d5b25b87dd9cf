# iSQRT-COV ResNet-50 fine-tuned on CUB-200-2011 at 448 x 448, the authors'
# fine-tuning recipe (jiangtaoxie/fast-MPN-COV finetune/finetune.sh): batch
# 10, SGD lr 1.2e-3, weight decay 1e-3, classifier lr x5, 100 epochs, no
# decay. Start from the ImageNet model, e.g. the authors' release converted
# with tools/model_converters/isqrt_cov2mmext.py.
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    'mmpretrain::_base_/datasets/cub_bs8_448.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

pretrained = 'checkpoints/isqrt-cov_resnet50_in1k.pth'
model = dict(
    backbone=dict(
        strides=(1, 2, 2, 1),
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(
        _delete_=True,
        type='ISQRTCOVNeck',
        in_channels=2048,
        reduced_channels=256,
        num_iter=5,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained,
                      prefix='neck.')),
    head=dict(num_classes=200, in_channels=32896, topk=(1, )))

train_dataloader = dict(batch_size=10)
val_dataloader = dict(batch_size=10)
test_dataloader = dict(batch_size=10)

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=1.2e-3, momentum=0.9, weight_decay=1e-3),
    paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=5.0)}))
param_scheduler = []
train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=10)
