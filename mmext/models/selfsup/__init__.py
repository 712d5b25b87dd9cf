from .unigrad import UniGrad

__all__ = ['UniGrad']
