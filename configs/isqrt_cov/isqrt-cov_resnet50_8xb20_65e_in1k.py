# iSQRT-COV ResNet-50 on ImageNet-1k from scratch, the authors' recipe
# (jiangtaoxie/fast-MPN-COV trainingFromScratch/train.sh): batch 160, SGD
# lr 0.1, weight decay 1e-4, x0.1 at epochs 30/45/60, 65 epochs.
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    'mmpretrain::_base_/schedules/imagenet_bs256.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    # layer4 at stride 1: a 14 x 14 map at 224 x 224 (Sec. 4.1).
    backbone=dict(strides=(1, 2, 2, 1)),
    neck=dict(
        _delete_=True,
        type='ISQRTCOVNeck',
        in_channels=2048,
        reduced_channels=256,
        num_iter=5),
    # 256 * 257 / 2 = 32,896 inputs.
    head=dict(in_channels=32896))

train_dataloader = dict(batch_size=20)
val_dataloader = dict(batch_size=20)
test_dataloader = dict(batch_size=20)

param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[30, 45, 60], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=65, val_interval=1)
auto_scale_lr = dict(base_batch_size=160)
