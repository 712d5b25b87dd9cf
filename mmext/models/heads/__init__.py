from .so_vit_head import SoViTHead

__all__ = ['SoViTHead']
