# GFNet digits, stage 2: PPO on the policy only (Adam 3e-4 as the authors;
# 4 PPO epochs per batch so the clip acts), encoders and classifier frozen.
_base_ = ['./gfnet-stage1_resnet18-p24_1xb64_15e_digits.py']

model = dict(
    stage=2,
    ppo_epochs=4,
    frozen=('global_encoder', 'local_encoder', 'classifier'))
optim_wrapper = dict(
    _delete_=True,
    optimizer=dict(type='Adam', lr=3e-4, betas=(0.9, 0.999)))
param_scheduler = []
train_cfg = dict(max_epochs=5)
load_from = 'work_dirs/gfnet-stage1_resnet18-p24_1xb64_15e_digits/epoch_15.pth'
