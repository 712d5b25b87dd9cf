"""Import an optional dependency with a message that names its package.

Projects (``projects/*``) use packages that ``requirements/runtime.txt``
does not list (``requirements/optional.txt`` does). A plain ``import`` of a
missing one fails with ``No module named 'sb3_contrib'``, which names
neither the pip package nor what needed it; :func:`require` says both::

    sb3_contrib = require('sb3_contrib', 'sb3-contrib',
                          'the recurrent agent of projects/TSCI')
"""
import importlib
from types import ModuleType


class MissingDependencyError(ImportError):
    """An optional dependency is not installed."""


def require(module: str, package: str, purpose: str) -> ModuleType:
    """Import ``module`` or stop with a message naming the pip package.

    Args:
        module (str): Dotted module name, e.g. ``'sb3_contrib'``.
        package (str): The pip package that provides it, e.g.
            ``'sb3-contrib'``.
        purpose (str): What needs it, e.g. ``'the recurrent agent of
            projects/TSCI'``.

    Returns:
        ModuleType: The imported module.

    Raises:
        MissingDependencyError: ``module`` (or a module it imports) is not
            installed. Other import errors of an installed module
            propagate unchanged.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        raise MissingDependencyError(
            f'{purpose} needs the package {package!r} (importing {module!r} '
            f'failed: no module named {err.name or module!r}); install it '
            f'with `pip install {package}` or `pip install -r '
            'requirements/optional.txt`') from err
