from .acmix_resnet import ACmixResNet
from .acmix_swin import ACmixSwinTransformer
from .cifar_kd_resnet import CIFARKDResNet
from .cifar_wrn import CIFARWideResNet
from .dat import DAT
from .deepbdc_resnet12 import DeepBDCResNet12
from .deepbdc_resnet18 import DeepBDCResNet18
from .eca_mobilenet_v2 import ECAMobileNetV2
from .eca_resnet import ECAResNet
from .gen_mobilenet_v3 import GenMobileNetV3
from .gsop_resnet import GSoPResNet
from .mobilenet_v1 import MobileNetV1
from .preact_resnet import PreActResNet
from .regnety import RegNetY
from .resnet_last_blocks import ResNetLastBlocks
from .shufflenet_v1_cifar import CIFARShuffleNetV1
from .so_vit import SoViT
from .tamt_vit import TAMTViT
from .vgg16_caffe import VGG16Caffe

__all__ = [
    'ACmixResNet', 'ACmixSwinTransformer', 'ECAResNet', 'ECAMobileNetV2',
    'CIFARKDResNet', 'CIFARWideResNet', 'CIFARShuffleNetV1', 'DAT',
    'GSoPResNet', 'SoViT', 'DeepBDCResNet12', 'DeepBDCResNet18',
    'MobileNetV1', 'ResNetLastBlocks', 'VGG16Caffe', 'PreActResNet',
    'TAMTViT', 'RegNetY', 'GenMobileNetV3'
]
