from .deepbdc import BDCPooling
from .isqrt_cov import ISQRTCOVNeck
from .mlkp import MLKPNeck

__all__ = ['BDCPooling', 'ISQRTCOVNeck', 'MLKPNeck']
