# GFNet-RegNetY-600MF P96, stage 3: fine-tuning with the learned policy; the
# classifier's lr is 0.01 (half the encoders' 0.02).
_base_ = ['./gfnet-stage1_regnety-600mf-p96_8xb32_60e_in1k.py']

model = dict(stage=3, global_encoder=dict(init_cfg=None))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'classifier': dict(lr_mult=0.5)
}))
load_from = ('work_dirs/gfnet-stage2_regnety-600mf-p96_8xb32_15e_in1k/'
             'epoch_15.pth')
