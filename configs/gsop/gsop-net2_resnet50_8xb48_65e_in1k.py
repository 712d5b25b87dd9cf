# GSoP-Net2 ResNet-50 on ImageNet-1k: GSoP blocks in the last bottleneck of
# stages 1-3, iSQRT-COV head (256-d, 3 iterations, 32,896-d to fc). The
# authors' recipe: batch 384, SGD lr 0.1, weight decay 1e-4, x0.1 at epochs
# 30/45/60, 65 epochs; layer4 at stride 1.
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    'mmpretrain::_base_/schedules/imagenet_bs256.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        type='GSoPResNet',
        strides=(1, 2, 2, 1),
        gsop_stages=(True, True, True, False),
        gsop_cfg=dict(type='GSoPChannelBlock', reduced_channels=128)),
    neck=dict(
        _delete_=True,
        type='ISQRTCOVNeck',
        in_channels=2048,
        reduced_channels=256,
        num_iter=3),
    head=dict(in_channels=32896))

train_dataloader = dict(batch_size=48)
val_dataloader = dict(batch_size=48)
test_dataloader = dict(batch_size=48)

param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[30, 45, 60], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=65, val_interval=1)
auto_scale_lr = dict(base_batch_size=384)
