# GFNet-RegNetY-1.6GF P96, stage 3 (fine-tuning with the learned policy).
_base_ = ['./gfnet-stage3_regnety-600mf-p96_8xb32_60e_in1k.py']

model = dict(
    global_encoder=dict(
        backbone=dict(arch='regnety_1.6gf'), head=dict(in_channels=888)),
    classifier=dict(in_channels=888),
    policy=dict(in_channels=888))
load_from = ('work_dirs/gfnet-stage2_regnety-1.6gf-p96_8xb32_15e_in1k/'
             'epoch_15.pth')
