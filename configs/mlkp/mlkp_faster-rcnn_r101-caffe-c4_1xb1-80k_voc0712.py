# MLKP, corrected mode, ResNet-101 C4, PASCAL VOC07+12 -> VOC2007 test
# (11-point mAP), the authors' solver.
_base_ = [
    '../_base_/models/mlkp_faster-rcnn_r101-caffe-c4.py',
    '../_base_/datasets/voc0712_1xb1.py',
    '../_base_/schedules/mlkp_sgd_40k.py'
]
