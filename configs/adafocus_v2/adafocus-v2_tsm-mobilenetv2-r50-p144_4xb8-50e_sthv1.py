# AdaFocusV2-TSM on Something-Something V1 with 144-pixel patches;
# otherwise as P128.
_base_ = ['./adafocus-v2_tsm-mobilenetv2-r50-p128_4xb8-50e_sthv1.py']

model = dict(patch_size=144)
