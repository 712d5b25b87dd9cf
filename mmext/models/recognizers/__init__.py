from .adafocus_v2 import AdaFocusV2
from .adafocus_v2_tsm import AdaFocusV2TSM

__all__ = ['AdaFocusV2', 'AdaFocusV2TSM']
