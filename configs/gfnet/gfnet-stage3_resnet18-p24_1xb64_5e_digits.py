# GFNet digits, stage 3: encoders and classifier fine-tuned with patches
# sampled from the learned policy.
_base_ = ['./gfnet-stage1_resnet18-p24_1xb64_15e_digits.py']

model = dict(stage=3)
optim_wrapper = dict(optimizer=dict(lr=0.01))
param_scheduler = dict(T_max=5, end=5)
train_cfg = dict(max_epochs=5)
load_from = 'work_dirs/gfnet-stage2_resnet18-p24_1xb64_5e_digits/epoch_5.pth'
