# GFNet-EfficientNet-B2 P128, stage 2: the patch policy learns by PPO (Adam
# 3e-4, 15 epochs); encoders and classifier from stage 1, frozen in eval mode.
_base_ = ['./gfnet-stage1_efficientnet-b2-p128_8xb32_30e_in1k.py']

model = dict(
    stage=2,
    frozen=('global_encoder', 'local_encoder', 'classifier'),
    global_encoder=dict(init_cfg=None))
optim_wrapper = dict(
    _delete_=True,
    optimizer=dict(type='Adam', lr=3e-4, betas=(0.9, 0.999)))
param_scheduler = []
train_cfg = dict(max_epochs=15)
load_from = ('work_dirs/gfnet-stage1_efficientnet-b2-p128_8xb32_30e_in1k/'
             'epoch_30.pth')
