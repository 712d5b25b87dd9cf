from .smoke import shrink_config

__all__ = ['shrink_config']
