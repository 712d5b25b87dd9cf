# GCP MobileNetV2 on ImageNet-1k, the authors' MobileNetV2 LRnorm recipe
# (ZhangLi-CS/GCP_Optimization src/main.py): batch 96, SGD lr 0.045,
# momentum 0.9, weight decay 4e-5, x0.98 every epoch; main.py sets no epoch
# count for this mode, so its default of 90 applies. The GCP head reduces
# the 1280-channel 7 x 7 map to 256 (1x1 conv + BN + ReLU6), 5 Newton-Schulz
# iterations, 32,896-d into the classifier. The authors' classifier has a
# dropout of 0.2 in front of the fc, which mmpretrain's LinearClsHead lacks.
_base_ = [
    'mmpretrain::_base_/models/mobilenet_v2_1x.py',
    'mmpretrain::_base_/datasets/imagenet_bs32_pil_resize.py',
    'mmpretrain::_base_/schedules/imagenet_bs256_epochstep.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    neck=dict(
        _delete_=True,
        type='ISQRTCOVNeck',
        in_channels=1280,
        reduced_channels=256,
        num_iter=5,
        act_cfg=dict(type='ReLU6')),
    head=dict(in_channels=32896))

train_dataloader = dict(batch_size=24)
val_dataloader = dict(batch_size=24)
test_dataloader = dict(batch_size=24)

train_cfg = dict(by_epoch=True, max_epochs=90, val_interval=1)
auto_scale_lr = dict(base_batch_size=96)
