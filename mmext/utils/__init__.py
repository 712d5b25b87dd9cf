from .compat import CheckpointError, safe_torch_load
from .config_check import ConfigError, check_config
from .optional_import import MissingDependencyError, require
from .validation import ArgumentError, check_arg

__all__ = [
    'CheckpointError', 'safe_torch_load', 'ConfigError', 'check_config',
    'ArgumentError', 'check_arg', 'MissingDependencyError', 'require'
]
