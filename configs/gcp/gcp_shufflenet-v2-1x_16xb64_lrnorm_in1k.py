# GCP ShuffleNetV2 1.0x on ImageNet-1k, the authors' ShuffleNetV2 LRnorm
# recipe (ZhangLi-CS/GCP_Optimization src/main_shufflenet.py): batch 1024,
# SGD lr 0.5, momentum 0.9, weight decay 4e-5, lr decayed linearly to 0 per
# iteration, 240 epochs. The GCP head reduces conv5's 1024 channels to 256
# (1x1 conv + BN + ReLU6), 5 Newton-Schulz iterations, 32,896-d into the
# classifier.
_base_ = [
    'mmpretrain::_base_/models/shufflenet_v2_1x.py',
    'mmpretrain::_base_/datasets/imagenet_bs64_pil_resize.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_linearlr_bn_nowd.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    neck=dict(
        _delete_=True,
        type='ISQRTCOVNeck',
        in_channels=1024,
        reduced_channels=256,
        num_iter=5,
        act_cfg=dict(type='ReLU6')),
    head=dict(in_channels=32896))

# The authors' decay applies to all parameters (no BN exemption) and has no
# warm-up. Their lr is 0.5 (1 - t / T) at iteration t of T = 240 epochs;
# PolyLR's is 0.5 (1 - t / (T - 1)), the same up to one iteration.
optim_wrapper = dict(paramwise_cfg=dict(_delete_=True))
param_scheduler = dict(
    _delete_=True,
    type='PolyLR',
    power=1.0,
    eta_min=0.0,
    by_epoch=True,
    convert_to_iter_based=True,
    begin=0,
    end=240)
train_cfg = dict(by_epoch=True, max_epochs=240, val_interval=1)
