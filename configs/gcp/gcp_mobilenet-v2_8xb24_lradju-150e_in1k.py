# GCP MobileNetV2, LRadju: the authors' MobileNetV2 LRadju recipe
# (ZhangLi-CS/GCP_Optimization src/main.py): batch 192, SGD lr 0.06,
# 150 epochs, lr linear in the epoch e from 0.06 to 0.01 (e = 0..50), to
# 0.001 (e = 50..100) and to 1e-5 (e = 100..150). mmengine's LinearLR
# scales the lr it starts from linearly from start_factor (first epoch of
# its range) to end_factor (last epoch), which gives these values exactly.
_base_ = ['./gcp_mobilenet-v2_4xb24_lrnorm_in1k.py']

optim_wrapper = dict(optimizer=dict(lr=0.06))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1.0,
        end_factor=0.01 / 0.06,
        by_epoch=True,
        begin=0,
        end=51),
    dict(
        type='LinearLR',
        start_factor=(0.01 - 0.009 / 50) / 0.01,
        end_factor=0.1,
        by_epoch=True,
        begin=51,
        end=101),
    dict(
        type='LinearLR',
        start_factor=(0.001 - 0.00099 / 50) / 0.001,
        end_factor=0.01,
        by_epoch=True,
        begin=101,
        end=151),
]
train_cfg = dict(max_epochs=150)
auto_scale_lr = dict(base_batch_size=192)
