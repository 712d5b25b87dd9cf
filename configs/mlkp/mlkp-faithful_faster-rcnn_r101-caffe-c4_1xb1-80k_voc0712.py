# MLKP as released (models/ResNet/train.prototxt), ResNet-101 C4, PASCAL
# VOC07+12 -> VOC2007 test (11-point mAP), images warped to 1000 x 600.
_base_ = [
    '../_base_/models/mlkp_faster-rcnn_r101-caffe-c4.py',
    '../_base_/datasets/voc0712_orientation-resize.py',
    '../_base_/schedules/mlkp_sgd_40k.py'
]
model = dict(neck=dict(mode='faithful'))
