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
   with ``MMEXT_TRUST_CHECKPOINTS=1`` (``weights_only=False``; logged once
   per process). A file refused because unpickling it would import or call
   something else raises a :class:`CheckpointError` naming the file and the
   refused global; unreadable files (truncated, not a checkpoint) raise one
   naming the file.

2. Atomic checkpoint writes.
   mmengine writes checkpoints with ``open(path, 'wb')``; a run killed
   mid-save leaves a truncated file under the final name, which ``--resume``
   then picks up. :meth:`LocalBackend.put` / ``put_text`` now write to a
   hidden temporary file ``.<name>.<8 hex digits>.tmp`` in the same
   directory and ``os.replace`` it into place. The temporary file is created
   with mode ``0o666`` like ``open()`` does, so the umask (or the directory's
   default ACL) applies and the saved file gets the permissions a plain
   write gives. The writer holds an ``flock`` on it; temporaries nobody holds
   (left by a killed save) are removed (:func:`remove_stale_temporaries`)
   the first time a process writes into their directory and, on
   :meth:`Runner.resume`, from the work directory and the checkpoint's
   directory.

3. Distributed training on CPU (``--launcher pytorch`` without a GPU).
   mmengine calls ``torch.cuda.set_device`` before ``init_process_group``
   and wraps the model in DDP with ``device_ids=[LOCAL_RANK]``; both fail
   on CPU. Without CUDA, the device is not set, 'nccl' falls back to
   'gloo' (with a warning) and CPU modules get ``device_ids=None``.

4. Hue jitter (mmcv 2.1.0 + NumPy 2).
   ``mmcv.adjust_hue`` with the pillow backend (mmpretrain's
   ``ColorJitter``, e.g. the BYOL and UniGrad pipelines) shifts the hue
   channel by ``np.uint8(hue_factor * 255)``, which NumPy 2 refuses for a
   negative factor (``OverflowError: Python integer -5 out of bounds for
   uint8``); NumPy 1 wrapped it modulo 256. The shift is now taken modulo
   256 explicitly, the same result as NumPy 1 gave.
"""
import fcntl
import inspect
import logging
import os
import os.path as osp
import pickle
import re
import secrets
import stat
import warnings
from functools import lru_cache, wraps
from typing import Any, Callable, List, Optional, Set, Tuple, Union

import mmcv
import mmcv.image.photometric
import numpy as np
import torch
import mmengine.dist.utils as mmengine_dist_utils
from mmengine.fileio.backends import LocalBackend
from mmengine.logging import print_log
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.model import MMDistributedDataParallel
from mmengine.runner import FlexibleRunner, Runner
from mmengine.runner.checkpoint import CheckpointLoader
from PIL import Image

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


@lru_cache(maxsize=None)
def _log_full_unpickling() -> None:
    """Say once per process that checkpoints are fully unpickled."""
    print_log(
        f'{TRUST_ENV}=1: checkpoints are loaded with full unpickling '
        '(torch.load(weights_only=False)), which runs any code a file '
        'contains; use it only for files you trust.',
        logger='current',
        level=logging.WARNING)


#: What torch's weights-only unpickler (or :func:`_history_buffer_getattr`)
#: says when it refuses a file because loading it would import or call
#: something: a pattern whose group is the refused global or call.
_REFUSALS = [
    re.compile(r'GLOBAL (\S+) was not an allowed global'),
    re.compile(r'unsupported GLOBAL (\S+) whose module \S+ is blocked'),
    re.compile(r'unrecognized function (.+?)(?: which belongs to .*)?$'),
    re.compile(r'Can only (?:create new object|build) .* but got (.+)$'),
    re.compile(r'(getattr\(.*\)) is not allowed in a checkpoint'),
]


def _unpickler_detail(msg: str) -> str:
    """The one specific line of torch's several-paragraph load error."""
    inner = msg.split('WeightsUnpickler error:')[-1]
    inner = inner.split('Check the documentation of torch.load')[0]
    inner = inner.replace(torch.serialization.UNSAFE_MESSAGE, '')
    inner = inner.replace('Weights only load failed.', '')
    lines = [line.strip() for line in inner.splitlines() if line.strip()]
    return lines[0] if lines else msg.strip()


def _refused(detail: str) -> Optional[str]:
    """The global or call the safe unpickler refused, if that is the
    failure (rather than a malformed file)."""
    for pattern in _REFUSALS:
        match = pattern.search(detail)
        if match:
            return match.group(1)
    return None


def safe_torch_load(f: Union[str, Any],
                    map_location: Optional[Any] = None) -> Any:
    """``torch.load`` with mmengine's own types allowed and clear errors.

    Args:
        f: A file path or a file-like object.
        map_location: As in :func:`torch.load`.

    Raises:
        FileNotFoundError: ``f`` is a path that does not exist.
        CheckpointError: The file holds pickled objects outside
            :data:`MMENGINE_SAFE_GLOBALS` (the message names the refused
            global and :data:`TRUST_ENV`), or it is truncated or not a
            checkpoint.
    """
    name = f if isinstance(f, str) else getattr(f, 'name', repr(f))
    if isinstance(f, str):
        f = osp.expanduser(f)
        if not osp.isfile(f):
            raise FileNotFoundError(f'checkpoint file {name!r} does not exist')
    weights_only = not trust_checkpoints()
    if not weights_only:
        _log_full_unpickling()
    try:
        with torch.serialization.safe_globals(MMENGINE_SAFE_GLOBALS):
            return torch.load(
                f, map_location=map_location, weights_only=weights_only)
    except pickle.UnpicklingError as e:
        detail = _unpickler_detail(str(e))
        refused = _refused(detail)
        if refused is not None:
            raise CheckpointError(
                f'checkpoint {name!r} would run code when loaded: the safe '
                f'loader refused `{refused}` (only tensors, containers, NumPy '
                'arrays and mmengine\'s own types are allowed). The file may '
                f'be unsafe. {TRUST_ENV}=1 loads it with full unpickling, '
                'which runs whatever it contains: set it only for files you '
                'trust.') from e
        raise CheckpointError(
            f'checkpoint {name!r} is truncated or not a PyTorch checkpoint '
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


#: Name of :func:`_atomic_write`'s temporary file for target ``<name>``:
#: ``.<name>.<8 hex digits>.tmp`` (nothing else matches it).
_TEMP_NAME = re.compile(r'\..+\.[0-9a-f]{8}\.tmp')


def _create_temp(dirname: str, basename: str) -> Tuple[int, str]:
    """Create and ``flock`` the hidden temporary for ``basename``.

    Mode ``0o666`` as in ``open()``: the kernel applies the umask (or the
    directory's default ACL), so the file ends up with the permissions a
    plain write gives, not ``mkstemp``'s 0600. The lock marks the file as
    in use for :func:`remove_stale_temporaries`; it is released when the
    descriptor is closed or the process dies.

    Returns:
        The open, locked descriptor and the file's path.
    """
    while True:
        tmp = osp.join(dirname, f'.{basename}.{secrets.token_hex(4)}.tmp')
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            # No flock on this file system (e.g. Lustre without -o flock):
            # the cleanup cannot lock either, so it never removes the file.
            return fd, tmp
        # A cleanup may have taken the lock first and removed the file
        # between open and flock; then start over with a new name.
        try:
            if osp.samestat(os.fstat(fd), os.stat(tmp)):
                return fd, tmp
        except FileNotFoundError:
            pass
        os.close(fd)


def remove_stale_temporaries(dirname: str) -> List[str]:
    """Remove the temporaries that killed atomic writes left in ``dirname``.

    Only regular files named exactly like :func:`_atomic_write`'s
    temporaries (``.<name>.<8 hex digits>.tmp``) whose ``flock`` nobody
    holds are removed: a save in progress (in any process) keeps its file,
    and nothing else in the directory is touched. Errors (a missing or
    read-only directory, a file removed concurrently, a file system without
    ``flock``, where nothing is removed) are ignored.

    Args:
        dirname: The directory to clean.

    Returns:
        The paths removed (each also logged).
    """
    try:
        names = os.listdir(dirname)
    except OSError:
        return []
    removed = []
    for name in names:
        if not _TEMP_NAME.fullmatch(name):
            continue
        path = osp.join(dirname, name)
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):
                continue
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if osp.samestat(os.fstat(fd), os.lstat(path)):
                size = os.fstat(fd).st_size
                os.remove(path)
                removed.append(path)
                print_log(
                    f'removed {path} ({size} bytes), the temporary file of '
                    'an interrupted save', logger='current')
        except OSError:  # locked by a save in progress, or already gone
            pass
        finally:
            os.close(fd)
    return removed


#: Directories this process has written into (and so cleaned).
_cleaned_dirs: Set[str] = set()


def _atomic_write(filepath: Union[str, os.PathLike],
                  mode: str,
                  write: Callable,
                  encoding: str = 'utf-8') -> None:
    """Write via a temp file in the same directory, then ``os.replace``."""
    filepath = os.fspath(filepath)
    dirname = osp.dirname(osp.abspath(filepath))
    os.makedirs(dirname, exist_ok=True)
    if dirname not in _cleaned_dirs:
        # Only killed processes leave temporaries (this one removes its own
        # on any exception), so one look per directory and process finds
        # all of them.
        _cleaned_dirs.add(dirname)
        remove_stale_temporaries(dirname)
    fd, tmp = _create_temp(dirname, osp.basename(filepath))
    try:
        with os.fdopen(fd, mode, encoding=None if 'b' in mode else
                       encoding) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
            # Renamed while still locked: never seen unlocked under the
            # temporary name.
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


_orig_resume = {cls: cls.resume for cls in (Runner, FlexibleRunner)}


def _cleaning_resume(cls: type) -> Callable:
    """``cls.resume`` that first cleans the work directory and the
    checkpoint's directory."""
    orig = _orig_resume[cls]

    @wraps(orig)
    def resume(self, filename: str, *args, **kwargs) -> None:
        dirs = {osp.abspath(self.work_dir)}
        if isinstance(filename, str) and osp.isfile(filename):
            dirs.add(osp.dirname(osp.abspath(filename)))
        for dirname in sorted(dirs):
            remove_stale_temporaries(dirname)
        return orig(self, filename, *args, **kwargs)

    return resume


_orig_init_dist_pytorch = mmengine_dist_utils._init_dist_pytorch
_orig_ddp_init = MMDistributedDataParallel.__init__
_orig_adjust_hue = mmcv.image.photometric.adjust_hue


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


def _adjust_hue(img: np.ndarray,
                hue_factor: float,
                backend: Optional[str] = None) -> np.ndarray:
    if backend is None:
        backend = mmcv.image.photometric.imread_backend
    if backend != 'pillow' or not -0.5 <= hue_factor <= 0.5 or not (
            isinstance(img, np.ndarray) and img.ndim in (2, 3)):
        return _orig_adjust_hue(img, hue_factor, backend)
    # mmcv's pillow branch with the shift wrapped as NumPy 1 did
    assert img.dtype == np.uint8, 'Pillow backend only support uint8 type'
    pil_image = Image.fromarray(img[..., ::-1], mode='RGB')
    h, s, v = pil_image.convert('HSV').split()
    np_h = np.array(h, dtype=np.uint8)
    np_h += np.uint8(int(hue_factor * 255) % 256)
    pil_image = Image.merge(
        'HSV', (Image.fromarray(np_h, 'L'), s, v)).convert('RGB')
    return np.array(pil_image, dtype=img.dtype)[..., ::-1]


def apply() -> None:
    """Apply every fix; idempotent."""
    CheckpointLoader.register_scheme(
        prefixes='', loader=_load_from_local, force=True)
    LocalBackend.put = _atomic_put
    LocalBackend.put_text = _atomic_put_text
    for cls in (Runner, FlexibleRunner):
        cls.resume = _cleaning_resume(cls)
    mmengine_dist_utils._init_dist_pytorch = _init_dist_pytorch
    MMDistributedDataParallel.__init__ = _ddp_init
    for module in (mmcv, mmcv.image, mmcv.image.photometric):
        module.adjust_hue = _adjust_hue


apply()
