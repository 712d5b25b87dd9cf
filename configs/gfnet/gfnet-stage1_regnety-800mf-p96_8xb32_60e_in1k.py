# GFNet-RegNetY-800MF P96, T = 5, stage 1: as RegNetY-600MF with 768 pooled
# channels (encoders from pycls' RegNetY-800MF_dds_8gpu.pyth, converted
# as there).
_base_ = ['./gfnet-stage1_regnety-600mf-p96_8xb32_60e_in1k.py']

model = dict(
    global_encoder=dict(
        backbone=dict(arch='regnety_800mf'),
        head=dict(in_channels=768),
        init_cfg=dict(
            checkpoint='checkpoints/regnety-800mf_pycls-in1k.pth')),
    classifier=dict(in_channels=768),
    policy=dict(in_channels=768))
