from .acmix import ACmix
from .eca import ECALayer, eca_kernel_size
from .gsop import GSoPChannelBlock, GSoPPositionBlock

__all__ = [
    'ACmix', 'ECALayer', 'eca_kernel_size', 'GSoPChannelBlock',
    'GSoPPositionBlock'
]
