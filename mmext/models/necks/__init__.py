from .deepbdc import BDCPooling
from .gtmt import GTMTNeck
from .isqrt_cov import ISQRTCOVNeck
from .mlkp import MLKPNeck

__all__ = ['BDCPooling', 'GTMTNeck', 'ISQRTCOVNeck', 'MLKPNeck']
