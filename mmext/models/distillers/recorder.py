"""Capture the outputs of named submodules with forward hooks."""
import difflib
from typing import Any, Dict, List

import torch.nn as nn


class ModuleOutputsRecorder:
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
        modules = dict(model.named_modules())
        self.sources = dict(sources)
        self.owner = owner
        self._recording = False
        self._outputs: Dict[str, List[Any]] = {k: [] for k in sources}
        self._handles = []
        for name, path in self.sources.items():
            if path not in modules or path == '':
                close = difflib.get_close_matches(
                    path, [m for m in modules if m], n=5, cutoff=0.5)
                hint = f'; close matches: {close}' if close else ''
                raise KeyError(
                    f'recorder {name!r}: module path {path!r} does not exist '
                    f'in {owner} ({type(model).__name__}){hint}')
            self._handles.append(modules[path].register_forward_hook(
                self._make_hook(name)))

    def _make_hook(self, name: str):

        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            if self._recording:
                self._outputs[name].append(output)

        return hook

    def start(self) -> None:
        """Clear the previous outputs and start recording."""
        for outs in self._outputs.values():
            outs.clear()
        self._recording = True

    def stop(self) -> None:
        """Stop recording (the outputs stay available)."""
        self._recording = False

    def __enter__(self) -> 'ModuleOutputsRecorder':
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def get(self, name: str, index: int = -1) -> Any:
        """Output ``index`` (default: the last call) of record ``name``."""
        if name not in self._outputs:
            raise KeyError(f'{self.owner} has no recorder {name!r}; it has '
                           f'{sorted(self._outputs)}')
        outs = self._outputs[name]
        if not outs:
            raise RuntimeError(
                f'recorder {name!r} ({self.owner}.{self.sources[name]}) '
                'captured nothing: the module was not called in the forward')
        return outs[index]

    def remove(self) -> None:
        """Remove the hooks."""
        for h in self._handles:
            h.remove()
        self._handles = []
