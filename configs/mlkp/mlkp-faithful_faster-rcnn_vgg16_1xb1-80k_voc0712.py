# MLKP as released (models/VGG16/train.prototxt at HEAD): zero-initialised
# shallow branch (it stays zero: see README), 1x1 stride-2 deconvolution
# and crop, every image warped to 1000 x 600 / 600 x 1000. VGG16, PASCAL
# VOC07+12 -> VOC2007 test (11-point mAP), the authors' solver.
_base_ = [
    '../_base_/models/mlkp_faster-rcnn_vgg16.py',
    '../_base_/datasets/voc0712_orientation-resize.py',
    '../_base_/schedules/mlkp_sgd_40k.py'
]
model = dict(neck=dict(mode='faithful'))
