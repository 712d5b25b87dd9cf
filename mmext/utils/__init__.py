from .compat import CheckpointError, safe_torch_load
from .config_check import ConfigError, check_config

__all__ = ['CheckpointError', 'safe_torch_load', 'ConfigError', 'check_config']
