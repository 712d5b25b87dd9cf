# GFNet-DenseNet-201 P96, stage 2 (PPO on the policy only).
_base_ = ['./gfnet-stage2_densenet121-p96_8xb32_15e_in1k.py']

model = dict(
    global_encoder=dict(
        backbone=dict(arch='201'), head=dict(in_channels=1920)),
    classifier=dict(in_channels=1920),
    policy=dict(in_channels=1920))
load_from = ('work_dirs/gfnet-stage1_densenet201-p96_8xb32_60e_in1k/'
             'epoch_60.pth')
