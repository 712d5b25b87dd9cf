# GFNet-DenseNet-169 P96, stage 3 (fine-tuning with the learned policy).
_base_ = ['./gfnet-stage3_densenet121-p96_8xb32_60e_in1k.py']

model = dict(
    global_encoder=dict(
        backbone=dict(arch='169'), head=dict(in_channels=1664)),
    classifier=dict(in_channels=1664),
    policy=dict(in_channels=1664))
load_from = ('work_dirs/gfnet-stage2_densenet169-p96_8xb32_15e_in1k/'
             'epoch_15.pth')
