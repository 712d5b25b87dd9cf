"""Plumbing shared by the scripts in ``tools/model_converters/``.

Each converter maps one paper's released checkpoint keys to mmext's (the
mapping itself lives next to the model, as ``checkpoint_filter_fn``); what
they share is reading the source file and the command-line behaviour.
"""
import argparse
import re
import sys
from collections import OrderedDict
from typing import (Any, Callable, Dict, Iterable, Mapping, Optional,
                    Sequence, Tuple, Union)

import torch

from .compat import TRUST_ENV, CheckpointError, safe_torch_load


class _YacsConfigStandIn:
    """Unpickled in place of ``yacs.config.CfgNode``.

    The DAT and ACmix authors train with Swin's code, which saves its yacs
    training config (a ``dict`` subclass) under ``'config'`` next to the
    weights. The converters do not need it, and yacs need not be installed:
    each node becomes a plain ``OrderedDict`` holding the same entries (the
    node's flags, such as ``__immutable__``, end up as its attributes).
    Nothing of yacs is executed.
    """

    def __new__(cls, *args, **kwargs) -> OrderedDict:
        return OrderedDict()


#: Classes the authors pickle next to their weights -> stand-ins that the
#: weights-only loader may create instead (without importing the original).
AUTHOR_PICKLED_CLASSES: Dict[str, type] = {
    'yacs.config.CfgNode': _YacsConfigStandIn,
}

LOADING_HELP = (
    'SRC is read without running pickled code: tensors, containers, '
    "numbers, strings and mmengine's own types, plus the yacs training "
    "config that the DAT and ACmix authors' (Swin-based) training code "
    'saves under "config" (read as plain dicts, so yacs need not be '
    f'installed). Other pickled objects are refused; set {TRUST_ENV}=1 to '
    'unpickle a trusted file fully (every pickled class must then be '
    'importable).')


def load_checkpoint(path: str) -> Any:
    """Read a converter's source checkpoint (the authors' release or
    training checkpoint, or one of mmext's).

    As :func:`mmext.utils.safe_torch_load` (weights only, unless
    ``MMEXT_TRUST_CHECKPOINTS=1``), with :data:`AUTHOR_PICKLED_CLASSES`
    read as stand-ins.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: ``path`` is not a checkpoint, holds refused pickled
            objects, or (full unpickling) pickles a class of a module that
            is not installed; the message names the module.
    """
    stand_ins = [(cls, name) for name, cls in AUTHOR_PICKLED_CLASSES.items()]
    try:
        with torch.serialization.safe_globals(stand_ins):
            return safe_torch_load(path, map_location='cpu')
    except CheckpointError as e:
        missing = e.__cause__
        if isinstance(missing, ModuleNotFoundError) and missing.name:
            module = missing.name.split('.')[0]
            hint = ''
            if any(name.startswith(module + '.')
                   for name in AUTHOR_PICKLED_CLASSES):
                hint = (f', or unset {TRUST_ENV}: the converters read '
                        f"{module}'s objects without {module}")
            raise ValueError(
                f'{path} pickles objects of the module {module!r}, which is '
                f'not installed ({TRUST_ENV}=1 imports every pickled class); '
                f'install {module}{hint}') from e
        raise ValueError(str(e)) from e


def load_state_dict(path: str,
                    container_keys: Sequence[str] = ('state_dict', ),
                    extra_keys: Sequence[str] = ()) -> Tuple[dict, dict]:
    """Read ``(state_dict, extra)`` from a released checkpoint.

    Args:
        path: The checkpoint file (read by :func:`load_checkpoint`).
        container_keys: Keys under which the file may nest its state dict
            (e.g. ``'state_dict'``, ``'model'``); a bare state dict is
            accepted too.
        extra_keys: Scalar entries (``'epoch'``, ``'arch'``...) copied into
            ``extra`` for the converted file's meta.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: ``path`` is not a checkpoint, or holds no state dict of
            tensors.
    """
    ckpt = load_checkpoint(path)
    state_dict, extra = ckpt, {}
    if isinstance(ckpt, dict):
        for key in container_keys:
            if isinstance(ckpt.get(key), dict):
                state_dict = ckpt[key]
                break
        for key in extra_keys:
            value = ckpt.get(key)
            if isinstance(value, torch.Tensor) and value.numel() == 1:
                value = value.item()
            if isinstance(value, (str, int, float)):
                extra[key] = value
    if not isinstance(state_dict, dict) or not state_dict:
        raise ValueError(f'{path} holds no state_dict')
    for key, value in state_dict.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise ValueError(f'{path}: entry {key!r} of the state_dict is not '
                             'a tensor; not a model checkpoint')
    return state_dict, extra


def src_dst_parser(description: str, src_help: str) -> argparse.ArgumentParser:
    """An argument parser with the converters' ``SRC DST`` positionals;
    its help ends with how SRC is read (:data:`LOADING_HELP`)."""
    parser = argparse.ArgumentParser(
        description=description, epilog=LOADING_HELP)
    parser.add_argument('src', help=src_help)
    parser.add_argument('dst', help='where to write the converted checkpoint')
    return parser


def run_cli(parser: argparse.ArgumentParser,
            convert: Callable[[argparse.Namespace], str],
            argv: Optional[Sequence[str]] = None) -> int:
    """Parse ``argv``, run ``convert(args)`` and print its message.

    Bad input (missing or corrupt file, unknown or missing keys) prints one
    ``error: ...`` line naming the file or key and returns 1.
    """
    args = parser.parse_args(argv)
    try:
        message = convert(args)
    except KeyError as e:
        print(f'error: {e.args[0]}', file=sys.stderr)
        return 1
    except (OSError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(message)
    return 0


def strip_prefix(state_dict: Mapping[str, torch.Tensor],
                 prefix: str = 'module.') -> Dict[str, torch.Tensor]:
    """Drop ``prefix`` (DataParallel's ``module.``) from keys that have it."""
    return {
        (k[len(prefix):] if k.startswith(prefix) else k): v
        for k, v in state_dict.items()
    }


def check_converted(
        out: Mapping[str, torch.Tensor],
        expected: Mapping[str, torch.Size],
        what: str,
        optional_suffixes: Tuple[str, ...] = ('num_batches_tracked', )
) -> None:
    """Check converted keys and shapes against the target model's.

    Args:
        out: The converted state dict.
        expected: Key -> shape of the model it must load into.
        what: Model name used in the error messages.
        optional_suffixes: Keys ending so may be missing from ``out``.

    Raises:
        KeyError: An unexpected or a missing key (the first one named).
        ValueError: A tensor of the wrong shape.
    """
    unknown = sorted(set(out) - set(expected))
    if unknown:
        raise KeyError(f'unexpected key {unknown[0]!r} for {what} '
                       f'({len(unknown)} in all)')
    missing = sorted(k for k in set(expected) - set(out)
                     if not k.endswith(optional_suffixes))
    if missing:
        raise KeyError(f'{what} checkpoint lacks {missing[0]!r} '
                       f'({len(missing)} missing in all)')
    for k, v in out.items():
        if tuple(v.shape) != tuple(expected[k]):
            raise ValueError(f'shape of {k!r} is {tuple(v.shape)}, '
                             f'{what} expects {tuple(expected[k])}')


#: a :func:`rename_by_rules` rule: a regex and its replacement, a template
#: (``r'layer\1.'``) or a function of the match (for arithmetic on indices)
RenameRule = Tuple[str, Union[str, Callable[[re.Match], str]]]


def rename_by_rules(key: str, rules: Iterable[RenameRule], hint: str) -> str:
    """Rename ``key`` by the first ``(pattern, replacement)`` regex rule
    that matches its beginning (only that match is replaced, so a rule for
    ``conv1.`` leaves ``layer1.0.conv1.weight``'s inner ``conv1.`` alone).
    The replacement is a template or a function, as in :func:`re.sub`.

    Raises:
        KeyError: No rule matches; the message names the key and ``hint``
            (what the checkpoint was expected to be).
    """
    for pattern, repl in rules:
        if re.match(pattern, key):
            return re.sub(pattern, repl, key, count=1)
    raise KeyError(f'no mmext counterpart for the key {key!r} ({hint})')
