"""Capture the arguments and results of named methods of submodules."""
import functools
import inspect
from typing import Any, Callable, Dict, List, NamedTuple

import torch.nn as nn

from .recorder import BaseRecorder


class MethodCall(NamedTuple):
    """One recorded call: the arguments bound to the method's parameter
    names (defaults applied) and the return value."""
    args: Dict[str, Any]
    output: Any


class MethodCallRecorder(BaseRecorder):
    """Record the calls of methods (not ``forward``) of ``model``'s
    submodules, addressed as ``'<module path>.<method>'``.

    :class:`ModuleOutputsRecorder` sees module outputs through forward
    hooks; values that only pass through plain methods (e.g. the sampled
    RoIs and their labels given to an mmdet bbox head's
    ``loss_and_target``) need this recorder. The method is wrapped on the
    module *instance* only between :meth:`start` and :meth:`stop` (or inside
    ``with recorder:``), so copies and checkpoints of the model never see
    the wrapper.

    Args:
        model (nn.Module): The model to record from.
        sources (dict[str, str]): Record name -> ``'<module path>.<method>'``,
            e.g. ``dict(targets='roi_head.bbox_head.loss_and_target')``.
        owner (str): Name of ``model`` in error messages.

    Raises:
        KeyError: The module path or the method does not exist.
    """

    kind = 'method recorder'
    empty_reason = 'the method was not called'

    def __init__(self,
                 model: nn.Module,
                 sources: Dict[str, str],
                 owner: str = 'model') -> None:
        super().__init__(model, sources, owner)
        self._targets = {}
        for name, source in self.sources.items():
            path, _, method = source.rpartition('.')
            module = self._module(name, path, source)
            if not callable(getattr(module, method, None)):
                raise KeyError(
                    f'recorder {name!r}: {type(module).__name__} at '
                    f'{path!r} in {owner} has no method {method!r}')
            self._targets[name] = (module, method)
        self._shadowed: Dict[str, Any] = {}

    def _wrap(self, name: str, bound: Callable) -> Callable:
        signature = inspect.signature(bound)

        @functools.wraps(bound)
        def wrapper(*args, **kwargs):
            output = bound(*args, **kwargs)
            arguments = signature.bind(*args, **kwargs)
            arguments.apply_defaults()
            self._records[name].append(
                MethodCall(dict(arguments.arguments), output))
            return output

        return wrapper

    def start(self) -> None:
        """Clear the previous calls and start recording."""
        if self._recording:
            return
        for name, (module, method) in self._targets.items():
            self._records[name].clear()
            if method in vars(module):  # already an instance attribute
                self._shadowed[name] = vars(module)[method]
            # an instance attribute shadows the class's method
            setattr(module, method, self._wrap(name, getattr(module, method)))
        self._recording = True

    def stop(self) -> None:
        """Stop recording and unwrap the methods (the calls stay
        available)."""
        if not self._recording:
            return
        for name, (module, method) in self._targets.items():
            if name in self._shadowed:
                setattr(module, method, self._shadowed.pop(name))
            else:
                delattr(module, method)
        self._recording = False
