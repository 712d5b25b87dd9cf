"""Load mmext's compiled ops (``mmext._ext``) once.

The extension is optional: when it is missing (not built, or built with
``MMEXT_WITH_OPS=0``) every op falls back to its pure-PyTorch reference and
one warning says so.
"""
import importlib
import warnings
from functools import lru_cache
from typing import Optional

import torch


@lru_cache(maxsize=None)
def load_ext() -> Optional[object]:
    """Return the ``mmext._ext`` module, or ``None`` (warned once)."""
    try:
        return importlib.import_module('mmext._ext')
    except ImportError as e:
        warnings.warn(
            f'mmext compiled ops are not available ({e}); using the '
            'pure-PyTorch reference implementations. Rebuild with '
            '`pip install --no-build-isolation -e .` to enable them.')
        return None


def ext_available() -> bool:
    """Whether ``torch.ops.mmext.*`` are registered."""
    return load_ext() is not None


def ext_with_cuda() -> bool:
    """Whether the extension was compiled with its CUDA kernels."""
    ext = load_ext()
    return bool(ext is not None and getattr(ext, 'with_cuda', False))


def cpu_workspace_release() -> int:
    """Return the CPU buffers cached by the compiled ops to the system.

    The covariance square root keeps its large CPU buffers (forward cache,
    backward work space) in a pool so that the next call reuses the same
    pages instead of faulting in fresh ones; the pool holds at most
    ``MMEXT_CPU_WORKSPACE_MB`` MiB (default 1024, ``0`` disables it).
    Returns the number of bytes released (0 without the extension).
    """
    if load_ext() is None or not hasattr(torch.ops.mmext,
                                         'cpu_workspace_release'):
        return 0
    return torch.ops.mmext.cpu_workspace_release()


def cpu_workspace_cached_bytes() -> int:
    """Bytes of free CPU buffers held by the compiled ops' pool."""
    if load_ext() is None or not hasattr(torch.ops.mmext,
                                         'cpu_workspace_cached_bytes'):
        return 0
    return torch.ops.mmext.cpu_workspace_cached_bytes()
