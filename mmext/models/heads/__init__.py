from .so_vit_head import SoViTHead
from .tcp_head import TCPHead

__all__ = ['SoViTHead', 'TCPHead']
