# ResNet-50 on ImageNet-1k: the teacher of the ResNet-50 -> MobileNetV1
# configs in kd/ and wkd/. As the authors (mdistiller / WKD) do, its weights
# are torchvision's pretrained ResNet-50 (IMAGENET1K_V1, 76.13 top-1), with
# the keys mapped to mmpretrain's by mmpretrain's converter:
#   wget https://download.pytorch.org/models/resnet50-0676ba61.pth
#   python $(python -c 'import mmpretrain, os; print(os.path.dirname(
#       mmpretrain.__file__))')/.mim/tools/model_converters/\
#       torchvision_to_mmpretrain.py resnet50-0676ba61.pth \
#       checkpoints/resnet50_torchvision_in1k.pth resnet
# This config reads the teacher for tools/misc/wkd_cost_matrix.py and
# tools/test.py.
_base_ = ['mmpretrain::resnet/resnet50_8xb32_in1k.py']
