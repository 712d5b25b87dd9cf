from .eca import ECALayer, eca_kernel_size
from .gsop import GSoPChannelBlock, GSoPPositionBlock

__all__ = [
    'ECALayer', 'eca_kernel_size', 'GSoPChannelBlock', 'GSoPPositionBlock'
]
