"""mmext: recent vision methods as OpenMMLab components.

``import mmext`` (or ``custom_imports = dict(imports=['mmext'])`` in a config)
applies the run-time compatibility fixes in :mod:`mmext.utils.compat` and
registers every component.
"""
from .utils import compat  # noqa: F401  (applies fixes before anything loads)
from . import datasets, engine, models  # noqa: F401,E402
from .version import __version__  # noqa: E402

__all__ = ['__version__']
