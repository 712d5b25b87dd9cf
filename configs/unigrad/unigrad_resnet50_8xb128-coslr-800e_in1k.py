# UniGrad, ResNet-50, 800 epochs: the 100-epoch recipe over 800 epochs (the
# authors' README reports 74.9 top-1 for "UniGrad + CutMix, 800 ep"; CutMix
# is not in their released code and is not applied here).
_base_ = ['./unigrad_resnet50_8xb128-coslr-100e_in1k.py']

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        begin=0,
        end=5,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=800,
        eta_min_ratio=1e-3,
        by_epoch=True,
        begin=5,
        end=800,
        convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=800)
