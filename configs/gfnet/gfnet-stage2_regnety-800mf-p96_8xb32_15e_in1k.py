# GFNet-RegNetY-800MF P96, stage 2 (PPO on the policy only).
_base_ = ['./gfnet-stage2_regnety-600mf-p96_8xb32_15e_in1k.py']

model = dict(
    global_encoder=dict(
        backbone=dict(arch='regnety_800mf'), head=dict(in_channels=768)),
    classifier=dict(in_channels=768),
    policy=dict(in_channels=768))
load_from = ('work_dirs/gfnet-stage1_regnety-800mf-p96_8xb32_60e_in1k/'
             'epoch_60.pth')
