# ResNet-34 on ImageNet-1k: the teacher of the ResNet-34 -> ResNet-18 configs
# in kd/ and wkd/. As the authors (mdistiller / WKD) do, its weights are
# torchvision's pretrained ResNet-34 (IMAGENET1K_V1, 73.31 top-1), with the
# keys mapped to mmpretrain's by mmpretrain's converter:
#   wget https://download.pytorch.org/models/resnet34-b627a593.pth
#   python $(python -c 'import mmpretrain, os; print(os.path.dirname(
#       mmpretrain.__file__))')/.mim/tools/model_converters/\
#       torchvision_to_mmpretrain.py resnet34-b627a593.pth \
#       checkpoints/resnet34_torchvision_in1k.pth resnet
# This config reads the teacher for tools/misc/wkd_cost_matrix.py and
# tools/test.py.
_base_ = ['mmpretrain::resnet/resnet34_8xb32_in1k.py']
