"""Load mmext's compiled ops (``mmext._ext``) once.

The extension is optional: when it is missing (not built, or built with
``MMEXT_WITH_OPS=0``) every op falls back to its pure-PyTorch reference and
one warning says so.
"""
import importlib
import warnings
from functools import lru_cache
from typing import Optional


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
