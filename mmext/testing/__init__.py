from .smoke import shrink_config, smoke_model_key

__all__ = ['shrink_config', 'smoke_model_key']
