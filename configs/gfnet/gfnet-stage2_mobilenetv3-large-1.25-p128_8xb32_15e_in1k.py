# GFNet-MobileNetV3-Large 1.25 P128, stage 2: the patch policy learns by PPO
# (Adam 3e-4, 15 epochs); encoders and classifier from stage 1, frozen.
_base_ = ['./gfnet-stage1_mobilenetv3-large-1.25-p128_8xb32_90e_in1k.py']

model = dict(
    stage=2, frozen=('global_encoder', 'local_encoder', 'classifier'))
optim_wrapper = dict(
    _delete_=True,
    optimizer=dict(type='Adam', lr=3e-4, betas=(0.9, 0.999)))
param_scheduler = []
train_cfg = dict(max_epochs=15)
load_from = ('work_dirs/gfnet-stage1_mobilenetv3-large-1.25-p128_8xb32_90e_'
             'in1k/epoch_90.pth')
