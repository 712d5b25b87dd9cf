"""Run-time fixes that the OpenMMLab stack needs on current PyTorch/NumPy.

Every fix lives here, is applied once by ``import mmext`` and has a test in
``tests/test_utils/test_compat.py`` that fails without it.

1. Checkpoint loading (mmengine 0.10.7 + torch >= 2.6).
   mmengine's local loader calls ``torch.load`` without ``weights_only``;
   torch now defaults to ``weights_only=True``, which rejects the
   :class:`~mmengine.logging.HistoryBuffer` and NumPy arrays that mmengine
   itself stores in every checkpoint, so ``load_from`` and ``resume`` fail.
   The choice made here: keep ``weights_only=True`` (a checkpoint from
   elsewhere still cannot execute arbitrary pickled code) and allow exactly
   the extra types that mmengine writes (:data:`MMENGINE_SAFE_GLOBALS`).
   A user who trusts a legacy file with other pickled objects can opt out
   with ``MMEXT_TRUST_CHECKPOINTS=1`` (``weights_only=False``).
   Unreadable files (truncated, not a checkpoint) raise one
   :class:`CheckpointError` naming the file.

2. Atomic checkpoint writes.
   mmengine writes checkpoints with ``open(path, 'wb')``; a run killed
   mid-save leaves a truncated file under the final name, which ``--resume``
   then picks up. :meth:`LocalBackend.put` / ``put_text`` now write to a
   temporary file in the same directory and ``os.replace`` it into place.

3. Distributed training on CPU (``--launcher pytorch`` without a GPU).
   mmengine calls ``torch.cuda.set_device`` before ``init_process_group``
   and wraps the model in DDP with ``device_ids=[LOCAL_RANK]``; both fail
   on CPU. Without CUDA, the device is not set, 'nccl' falls back to
   'gloo' (with a warning) and CPU modules get ``device_ids=None``.
"""
import inspect
import os
import os.path as osp
import pickle
import tempfile
import warnings
from typing import Any, Callable, List, Optional, Union

import numpy as np
import torch
import mmengine.dist.utils as mmengine_dist_utils
from mmengine.fileio.backends import LocalBackend
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.model import MMDistributedDataParallel
from mmengine.runner.checkpoint import CheckpointLoader

TRUST_ENV = 'MMEXT_TRUST_CHECKPOINTS'


class CheckpointError(RuntimeError):
    """A checkpoint file exists but cannot be read as a checkpoint."""


def _numpy_globals() -> List[Any]:
    """NumPy functions/classes pickled with arrays and scalars."""
    multiarray = np._core.multiarray if hasattr(
        np, '_core') else np.core.multiarray
    dtype_classes = [
        getattr(np.dtypes, name) for name in dir(np.dtypes)
        if name.endswith('DType')
    ]
    return [multiarray._reconstruct, multiarray.scalar, np.ndarray,
            np.dtype] + dtype_classes


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """Stand-in for ``getattr`` while unpickling mmengine checkpoints.

    A pickled :class:`HistoryBuffer` stores its statistics methods as
    ``getattr(HistoryBuffer, 'mean')``. Allowing the real ``getattr`` would
    let a crafted file reach ``__globals__`` and execute code, so only those
    lookups are resolved.
    """
    if obj is HistoryBuffer and isinstance(name, str) and \
            not name.startswith('_') and \
            inspect.isfunction(vars(HistoryBuffer).get(name)):
        return vars(HistoryBuffer)[name]
    raise pickle.UnpicklingError(
        f'getattr({obj!r}, {name!r}) is not allowed in a '
        'checkpoint')


#: Types mmengine itself puts into checkpoints (message hub buffers and
#: their statistics methods, NumPy arrays/scalars in meta and logs).
MMENGINE_SAFE_GLOBALS: List[Any] = [
    HistoryBuffer, (_history_buffer_getattr, 'builtins.getattr')
] + _numpy_globals()


def trust_checkpoints() -> bool:
    """Whether the user opted into full unpickling (``MMEXT_TRUST_...=1``)."""
    return os.environ.get(TRUST_ENV, '0') == '1'


def safe_torch_load(f: Union[str, Any],
                    map_location: Optional[Any] = None) -> Any:
    """``torch.load`` with mmengine's own types allowed and clear errors.

    Args:
        f: A file path or a file-like object.
        map_location: As in :func:`torch.load`.

    Raises:
        FileNotFoundError: ``f`` is a path that does not exist.
        CheckpointError: The file is truncated, not a checkpoint, or holds
            pickled objects outside :data:`MMENGINE_SAFE_GLOBALS`.
    """
    name = f if isinstance(f, str) else getattr(f, 'name', repr(f))
    if isinstance(f, str):
        f = osp.expanduser(f)
        if not osp.isfile(f):
            raise FileNotFoundError(f'checkpoint file {name!r} does not exist')
    weights_only = not trust_checkpoints()
    try:
        with torch.serialization.safe_globals(MMENGINE_SAFE_GLOBALS):
            return torch.load(
                f, map_location=map_location, weights_only=weights_only)
    except pickle.UnpicklingError as e:
        msg = str(e)
        # torch's message is several paragraphs; keep its one specific line.
        detail = msg.split('WeightsUnpickler error:')[-1].strip()
        detail = detail.splitlines()[0] if detail else msg
        if 'Unsupported global' in msg or 'is not allowed' in msg:
            raise CheckpointError(
                f'checkpoint {name!r} contains pickled objects that are not '
                'tensors, containers or mmengine types; refusing to load it '
                f'({detail}). If you trust this file, set {TRUST_ENV}=1.'
            ) from e
        raise CheckpointError(
            f'checkpoint {name!r} is corrupt or not a PyTorch checkpoint '
            f'({detail})') from e
    except Exception as e:  # noqa: BLE001  any other failure to parse
        # A malformed pickle stream can raise almost anything (EOFError,
        # IndexError, KeyError, UnicodeDecodeError, zipfile.BadZipFile...).
        detail = str(e).strip().splitlines()
        raise CheckpointError(
            f'checkpoint {name!r} is truncated or not a PyTorch checkpoint '
            f'({detail[0] if detail else type(e).__name__})') from e


def _load_from_local(filename: str, map_location: Optional[Any]) -> Any:
    return safe_torch_load(filename, map_location)


def _atomic_write(filepath: Union[str, os.PathLike],
                  mode: str,
                  write: Callable,
                  encoding: str = 'utf-8') -> None:
    """Write via a temp file in the same directory, then ``os.replace``."""
    filepath = os.fspath(filepath)
    dirname = osp.dirname(osp.abspath(filepath))
    os.makedirs(dirname, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=dirname, prefix='.' + osp.basename(filepath), suffix='.tmp')
    try:
        with os.fdopen(fd, mode, encoding=None if 'b' in mode else
                       encoding) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def _atomic_put(self: LocalBackend, obj: bytes,
                filepath: Union[str, os.PathLike]) -> None:
    _atomic_write(filepath, 'wb', lambda f: f.write(obj))


def _atomic_put_text(self: LocalBackend,
                     obj: str,
                     filepath: Union[str, os.PathLike],
                     encoding: str = 'utf-8') -> None:
    _atomic_write(filepath, 'w', lambda f: f.write(obj), encoding)


_orig_init_dist_pytorch = mmengine_dist_utils._init_dist_pytorch
_orig_ddp_init = MMDistributedDataParallel.__init__


def _init_dist_pytorch(backend: str, *args, **kwargs) -> None:
    if torch.cuda.is_available():
        return _orig_init_dist_pytorch(backend, *args, **kwargs)
    if backend == 'nccl':
        warnings.warn('CUDA is not available: using the gloo backend instead '
                      'of nccl (set env_cfg.dist_cfg.backend to silence this)')
        backend = 'gloo'
    kwargs.pop('init_backend', None)
    torch.distributed.init_process_group(backend=backend, **kwargs)


def _ddp_init(self, module: torch.nn.Module, *args, **kwargs) -> None:
    on_cpu = all(p.device.type == 'cpu' for p in module.parameters())
    if on_cpu:
        kwargs['device_ids'] = None
        kwargs.pop('output_device', None)
    _orig_ddp_init(self, module, *args, **kwargs)


def apply() -> None:
    """Apply every fix; idempotent."""
    CheckpointLoader.register_scheme(
        prefixes='', loader=_load_from_local, force=True)
    LocalBackend.put = _atomic_put
    LocalBackend.put_text = _atomic_put_text
    mmengine_dist_utils._init_dist_pytorch = _init_dist_pytorch
    MMDistributedDataParallel.__init__ = _ddp_init


apply()
