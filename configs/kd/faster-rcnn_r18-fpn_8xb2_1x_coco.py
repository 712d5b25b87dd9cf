# Faster R-CNN with a ResNet-18 FPN backbone on COCO (1x schedule): the plain
# student of the R101 -> R18 detection distillation configs. A distillation
# checkpoint stripped of its teacher
# (tools/model_converters/strip_teacher.py) loads into this config.
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'

model = dict(backbone=dict(depth=18,
                           init_cfg=dict(type='Pretrained',
                                         checkpoint='torchvision://resnet18')),
             neck=dict(in_channels=[64, 128, 256, 512]))
