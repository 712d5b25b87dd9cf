"""Run :func:`~mmext.utils.check_config` for every mmengine runner.

``import mmext`` (which ``custom_imports=dict(imports=['mmext'])`` does
inside ``Config.fromfile``, before any script builds its runner) wraps
``Runner.__init__`` and ``FlexibleRunner.__init__``. The check therefore runs
exactly once for each runner, whether it is built by mmext's tools, by
mmdet's, mmpretrain's or mmaction2's stock ``tools/train.py`` and
``tools/test.py`` (``Runner.from_cfg(cfg)``, ``RUNNERS.build(cfg)``) or as
``Runner(**cfg)``, and before the runner builds anything: a misspelled type,
a missing folder or a broken ``load_from`` stops with one message instead of
a traceback from deep inside the first iteration.

The check sees the runner's own arguments (every key it reads is one:
``model``, the dataloaders, ``train_cfg``, ``load_from``, ...) and resolves
types in the runner's ``default_scope``, as the runner will.
"""
import functools
import inspect
from typing import Callable

from mmengine.registry import DefaultScope
from mmengine.runner import FlexibleRunner, Runner

from .config_check import check_config

#: Arguments that are not part of the checked config.
_NOT_CHECKED = ('self', 'cfg')


def _checked_init(init: Callable) -> Callable:
    """Wrap a runner ``__init__`` so that its arguments are checked first."""
    signature = inspect.signature(init)

    @functools.wraps(init)
    def __init__(self, *args, **kwargs) -> None:
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError:  # wrong arguments: the runner's own message
            return init(self, *args, **kwargs)
        bound.apply_defaults()
        args_cfg = {
            k: v
            for k, v in bound.arguments.items() if k not in _NOT_CHECKED
        }
        filename = getattr(bound.arguments['cfg'], 'filename', None)
        with DefaultScope.overwrite_default_scope(args_cfg['default_scope']):
            check_config(args_cfg, filename)
        init(self, *args, **kwargs)

    __init__.__wrapped_by_mmext__ = True
    return __init__


def apply() -> None:
    """Wrap the runners' ``__init__``; idempotent."""
    for runner_cls in (Runner, FlexibleRunner):
        if not getattr(runner_cls.__init__, '__wrapped_by_mmext__', False):
            runner_cls.__init__ = _checked_init(runner_cls.__init__)


apply()
