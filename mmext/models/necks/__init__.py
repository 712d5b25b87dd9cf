from .isqrt_cov import ISQRTCOVNeck
from .mlkp import MLKPNeck

__all__ = ['ISQRTCOVNeck', 'MLKPNeck']
