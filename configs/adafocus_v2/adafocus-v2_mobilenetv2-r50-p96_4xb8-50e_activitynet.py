# AdaFocusV2 on ActivityNet with 96-pixel patches; otherwise as P128.
_base_ = ['./adafocus-v2_mobilenetv2-r50-p128_4xb8-50e_activitynet.py']

model = dict(patch_size=96)
