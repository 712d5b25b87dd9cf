# GFNet-RegNetY-1.6GF P96, T = 5, stage 1: as RegNetY-600MF with 888 pooled
# channels (encoders from pycls' RegNetY-1.6GF_dds_8gpu.pyth, converted
# as there).
_base_ = ['./gfnet-stage1_regnety-600mf-p96_8xb32_60e_in1k.py']

model = dict(
    global_encoder=dict(
        backbone=dict(arch='regnety_1.6gf'),
        head=dict(in_channels=888),
        init_cfg=dict(
            checkpoint='checkpoints/regnety-1.6gf_pycls-in1k.pth')),
    classifier=dict(in_channels=888),
    policy=dict(in_channels=888))
