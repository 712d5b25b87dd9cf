from .adafocus_v2 import AdaFocusV2

__all__ = ['AdaFocusV2']
