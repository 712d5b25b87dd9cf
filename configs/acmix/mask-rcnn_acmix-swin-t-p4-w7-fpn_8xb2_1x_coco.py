# Mask R-CNN with an ACmix-Swin-T backbone on COCO, 1x schedule. The authors
# released no detection code or settings (LeapLabTHU/ACmix has ImageNet
# code only), so this is mmdet's Swin-T Mask R-CNN recipe (AdamW lr 1e-4,
# wd 0.05, no decay on norms and relative position bias tables, steps at 8
# and 11, drop path 0.2) with the ACmix backbone; ACmix's rate1/rate2 get no
# weight decay either, as in the authors' ImageNet training (their
# set_weight_decay skips every 1-d parameter).
# Backbone weights: the authors' ImageNet ACmix-Swin-T release converted with
# tools/model_converters/acmix2mmext.py.
_base_ = 'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='ACmixSwinTransformer',
        arch='tiny',
        window_size=7,
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(
            type='Pretrained',
            prefix='backbone.',
            checkpoint='checkpoints/acmix-swin-t_in1k_mmext.pth')),
    neck=dict(in_channels=[96, 192, 384, 768]))

optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            'rate1': dict(decay_mult=0.),
            'rate2': dict(decay_mult=0.),
        }))
