# MLKP, corrected mode: trainable shallow branch, interpolated deep map,
# aspect-preserving resize (shorter side 600, longer <= 1000). VGG16,
# PASCAL VOC07+12 trainval -> VOC2007 test (11-point mAP), the authors'
# solver (40k updates of 2 images).
_base_ = [
    '../_base_/models/mlkp_faster-rcnn_vgg16.py',
    '../_base_/datasets/voc0712_1xb1.py',
    '../_base_/schedules/mlkp_sgd_40k.py'
]
