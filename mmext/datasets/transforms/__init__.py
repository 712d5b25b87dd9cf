from .orientation_resize import OrientationResize

__all__ = ['OrientationResize']
