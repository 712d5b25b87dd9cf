from .eca import ECALayer, eca_kernel_size

__all__ = ['ECALayer', 'eca_kernel_size']
