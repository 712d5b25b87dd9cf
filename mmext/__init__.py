"""mmext: recent vision methods as OpenMMLab components.

``import mmext`` (or ``custom_imports = dict(imports=['mmext'])`` in a config)
applies the run-time compatibility fixes in :mod:`mmext.utils.compat`, makes
every mmengine runner check its config first (:mod:`mmext.utils.runner_check`)
and registers every component.
"""
from .utils import compat  # noqa: F401  (applies fixes before anything loads)
from .utils import runner_check  # noqa: F401,E402  (wraps Runner.__init__)
from . import datasets, engine, evaluation, models  # noqa: F401,E402
from .version import __version__  # noqa: E402

__all__ = ['__version__']
