# Proxy task of the RetinaNet search (the authors' cfg_search_retina.py):
# one epoch of the 512 x 512 protocol on search_train2017.json, bbox mAP on
# the held-out search_val2017.json (split_coco.py), lr 0.016 with a
# 500-iteration warm-up and no decay. The search writes ctrl_points and
# grad_scale of bbox_head.loss_cls.
_base_ = ('../../../configs/paploss/'
          'retinanet_r50_fpn_paploss_8xb8-100e_coco-512.py')

train_dataloader = dict(
    dataset=dict(ann_file='annotations/search_train2017.json',
                 data_prefix=dict(img='train2017/')))
val_dataloader = dict(
    dataset=dict(ann_file='annotations/search_val2017.json',
                 data_prefix=dict(img='train2017/')))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file='data/coco/annotations/search_val2017.json')
test_evaluator = val_evaluator
train_cfg = dict(max_epochs=1, val_interval=1)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500)
]
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=1))
