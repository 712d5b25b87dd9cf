from .isqrt_cov import ISQRTCOVNeck

__all__ = ['ISQRTCOVNeck']
