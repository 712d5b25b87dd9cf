# DAT-B on ImageNet-1k at 224 (configs/dat_base.yaml): lr 4e-4 per 512
# images, 50 warm-up epochs, grad-norm clip 1, stochastic depth 0.5.
_base_ = './dat_tiny_8xb128_300e_in1k.py'

model = dict(
    backbone=dict(arch='base', drop_path_rate=0.5),
    head=dict(in_channels=1024))

optim_wrapper = dict(
    optimizer=dict(lr=4e-4 * 1024 / 512), clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        end=50,
        convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=50)
]
