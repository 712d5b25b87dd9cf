"""Capture the outputs of named submodules with forward hooks."""
import difflib
from typing import Any, Dict, List

import torch.nn as nn


class BaseRecorder:
    """What mmext's recorders share: named records of ``model``'s
    submodules, filled only between :meth:`start` and :meth:`stop` (or
    inside ``with recorder:``), read back with :meth:`get`.

    Args:
        model (nn.Module): The model to record from.
        sources (dict[str, str]): Record name -> where to record.
        owner (str): Name of ``model`` in error messages.
    """
    #: How the records are called in error messages.
    kind = 'recorder'
    #: Why a record can be empty, for the error message.
    empty_reason = 'the module was not called in the forward'

    def __init__(self,
                 model: nn.Module,
                 sources: Dict[str, str],
                 owner: str = 'model') -> None:
        self.sources = dict(sources)
        self.owner = owner
        self._modules = dict(model.named_modules())
        self._model_type = type(model).__name__
        self._records: Dict[str, List[Any]] = {k: [] for k in sources}
        self._recording = False

    def _module(self, name: str, path: str, source: str) -> nn.Module:
        """The submodule at ``path``; a KeyError with close matches if
        there is none."""
        if path not in self._modules or path == '':
            close = difflib.get_close_matches(
                path, [m for m in self._modules if m], n=5, cutoff=0.5)
            hint = f'; close matches: {close}' if close else ''
            of = f' (of {source!r})' if source != path else ''
            raise KeyError(f'recorder {name!r}: module path {path!r}{of} '
                           f'does not exist in {self.owner} '
                           f'({self._model_type}){hint}')
        return self._modules[path]

    def start(self) -> None:
        """Clear the previous records and start recording."""
        for records in self._records.values():
            records.clear()
        self._recording = True

    def stop(self) -> None:
        """Stop recording (the records stay available)."""
        self._recording = False

    def __enter__(self) -> 'BaseRecorder':
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def get(self, name: str, index: int = -1) -> Any:
        """Record ``index`` (default: the last call) of record ``name``."""
        if name not in self._records:
            raise KeyError(f'{self.owner} has no {self.kind} {name!r}; it '
                           f'has {sorted(self._records)}')
        records = self._records[name]
        if not records:
            raise RuntimeError(
                f'{self.kind} {name!r} ({self.owner}.{self.sources[name]}) '
                f'captured nothing: {self.empty_reason}')
        return records[index]


class ModuleOutputsRecorder(BaseRecorder):
    """Record the outputs of submodules of ``model`` addressed by path.

    Hooks are registered once; outputs are stored only between
    :meth:`start` and :meth:`stop` (or inside ``with recorder:``). A module
    called several times in one forward (e.g. a shared RoI head) keeps the
    outputs of every call; :meth:`get` returns the last one.

    Args:
        model (nn.Module): The model to record from.
        sources (dict[str, str]): Record name -> module path, e.g.
            ``dict(logits='head.fc', feat='backbone.layer3')``.
        owner (str): Name of ``model`` in error messages.

    Raises:
        KeyError: A path names no submodule; the message lists close
            matches.
    """

    def __init__(self,
                 model: nn.Module,
                 sources: Dict[str, str],
                 owner: str = 'model') -> None:
        super().__init__(model, sources, owner)
        self._handles = [
            self._module(name, path, path).register_forward_hook(
                self._make_hook(name))
            for name, path in self.sources.items()
        ]

    def _make_hook(self, name: str):

        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            if self._recording:
                self._records[name].append(output)

        return hook

    def remove(self) -> None:
        """Remove the hooks."""
        for h in self._handles:
            h.remove()
        self._handles = []
