# Mask R-CNN with a DAT-T backbone on COCO, 3x schedule with multi-scale
# training and random crops: mmdet's Swin-T 3x recipe.
_base_ = 'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_ms-crop-3x_coco.py'
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='DAT',
        arch='tiny',
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(
            type='Pretrained',
            prefix='backbone.',
            checkpoint='checkpoints/dat_tiny_8xb128_300e_in1k.pth')),
    neck=dict(in_channels=[96, 192, 384, 768]))

optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            'rpe_table': dict(decay_mult=0.),
        }))
