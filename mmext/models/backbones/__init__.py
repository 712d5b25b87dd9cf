from .eca_mobilenet_v2 import ECAMobileNetV2
from .eca_resnet import ECAResNet

__all__ = ['ECAResNet', 'ECAMobileNetV2']
