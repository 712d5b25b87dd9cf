"""Run-time fixes in mmext.utils.compat; each test fails without its fix."""
import logging
import os
import stat

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.fileio.backends import LocalBackend
from mmengine.logging import MessageHub, MMLogger
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint, save_checkpoint
from torch.utils.data import DataLoader

import mmext  # noqa: F401  (applies the fixes)
from mmext.utils import compat
from mmext.utils.compat import TRUST_ENV, CheckpointError


def _mmengine_checkpoint(path):
    """A checkpoint with what mmengine's Runner stores besides weights."""
    hub = MessageHub.get_instance('test_compat')
    hub.update_scalar('train/loss', 1.0)
    hub.update_scalar('train/loss', np.float64(2.0))
    ckpt = {
        'meta': {'epoch': 3, 'iter': 12, 'seed': np.int64(7)},
        'state_dict': {'w': torch.arange(4.)},
        'message_hub': hub.state_dict(),
    }
    save_checkpoint(ckpt, str(path))
    return ckpt


class _Evil:
    """Pickles to a call that would create a file when unpickled."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.mkdir, (self.target, ))


def test_plain_torch_load_rejects_mmengine_checkpoint(tmp_path):
    # The problem the fix addresses: torch's default refuses these files.
    _mmengine_checkpoint(tmp_path / 'a.pth')
    with pytest.raises(Exception, match='Weights only load failed'):
        torch.load(tmp_path / 'a.pth')


def test_mmengine_checkpoint_loads(tmp_path):
    ckpt = _mmengine_checkpoint(tmp_path / 'a.pth')
    out = _load_checkpoint(str(tmp_path / 'a.pth'), map_location='cpu')
    assert out['meta']['epoch'] == 3 and out['meta']['seed'] == 7
    assert torch.equal(out['state_dict']['w'], ckpt['state_dict']['w'])
    buf = out['message_hub']['log_scalars']['train/loss']
    assert buf.mean() == pytest.approx(1.5)
    assert buf.current() == pytest.approx(2.0)


def _assert_refused(message, name, refused):
    """The message of a file refused because it would run code."""
    assert name in message and f'refused `{refused}`' in message, message
    assert 'would run code' in message and 'may be unsafe' in message
    assert f'{TRUST_ENV}=1 loads it' in message
    assert 'only for files you trust' in message
    assert 'truncated' not in message and 'corrupt' not in message


def test_foreign_pickle_is_not_executed(tmp_path, monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)
    target = tmp_path / 'pwned'
    torch.save({'x': _Evil(str(target))}, tmp_path / 'evil.pth')
    with pytest.raises(CheckpointError) as info:
        _load_checkpoint(str(tmp_path / 'evil.pth'))
    assert not target.exists()
    # os.mkdir pickles as posix.mkdir, whose module torch blocks outright
    # (a differently worded refusal than an unknown global).
    _assert_refused(str(info.value), 'evil.pth', os.mkdir.__module__ +
                    '.mkdir')


def test_getattr_stand_in_is_restricted(tmp_path):
    # A crafted pickle calling getattr on anything but HistoryBuffer's
    # statistics methods is refused (the real getattr would be an escape).
    import pickle

    class _GetGlobals:

        def __reduce__(self):
            return (getattr, (torch.Tensor, '__init__'))

    with open(tmp_path / 'g.pth', 'wb') as f:
        pickle.dump({'x': _GetGlobals()}, f, protocol=2)
    with pytest.raises(CheckpointError) as info:
        _load_checkpoint(str(tmp_path / 'g.pth'))
    _assert_refused(
        str(info.value), 'g.pth',
        f"getattr({torch.Tensor!r}, '__init__')")


def test_trusted_opt_in(tmp_path, monkeypatch):
    from fractions import Fraction  # not a type weights_only allows
    monkeypatch.delenv(TRUST_ENV, raising=False)
    torch.save({'x': Fraction(1, 3)}, tmp_path / 'frac.pth')
    with pytest.raises(CheckpointError) as info:
        _load_checkpoint(str(tmp_path / 'frac.pth'))
    _assert_refused(str(info.value), 'frac.pth', 'fractions.Fraction')
    monkeypatch.setenv(TRUST_ENV, '1')
    assert _load_checkpoint(str(tmp_path / 'frac.pth'))['x'] == Fraction(1, 3)


def test_trusted_opt_in_is_logged_once(tmp_path, monkeypatch):
    records = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record) if TRUST_ENV in \
        record.getMessage() else None
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    compat._log_full_unpickling.cache_clear()
    try:
        _mmengine_checkpoint(tmp_path / 'a.pth')
        monkeypatch.delenv(TRUST_ENV, raising=False)
        _load_checkpoint(str(tmp_path / 'a.pth'))
        assert not records  # safe loading says nothing
        monkeypatch.setenv(TRUST_ENV, '1')
        for _ in range(3):
            _load_checkpoint(str(tmp_path / 'a.pth'))
    finally:
        logger.removeHandler(handler)
    assert len(records) == 1
    assert records[0].levelno == logging.WARNING
    assert 'full unpickling' in records[0].getMessage()


@pytest.mark.parametrize('content', [b'not a checkpoint', b''])
def test_not_a_checkpoint(tmp_path, content):
    (tmp_path / 'x.pth').write_bytes(content)
    with pytest.raises(CheckpointError, match='x.pth'):
        _load_checkpoint(str(tmp_path / 'x.pth'))


def test_truncated_checkpoint(tmp_path):
    _mmengine_checkpoint(tmp_path / 'a.pth')
    data = (tmp_path / 'a.pth').read_bytes()
    (tmp_path / 't.pth').write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError) as info:
        _load_checkpoint(str(tmp_path / 't.pth'))
    message = str(info.value)
    assert "'" + str(tmp_path / 't.pth') + "' is truncated or not a PyTorch " \
        'checkpoint' in message
    assert TRUST_ENV not in message and 'unsafe' not in message


def test_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        _load_checkpoint(str(tmp_path / 'nope.pth'))


def test_interrupted_write_keeps_old_file(tmp_path):
    from mmext.utils.compat import _atomic_write
    path = tmp_path / 'epoch_1.pth'
    LocalBackend().put(b'old', path)

    class Interrupt(BaseException):
        """Stands for a KeyboardInterrupt/SIGTERM in the middle of a save."""

    def write_half(f):
        f.write(b'ne')
        raise Interrupt

    with pytest.raises(Interrupt):
        _atomic_write(path, 'wb', write_half)
    assert path.read_bytes() == b'old'
    assert sorted(os.listdir(tmp_path)) == ['epoch_1.pth']  # no temp left
    LocalBackend().put(b'new', path)
    assert path.read_bytes() == b'new'
    LocalBackend().put_text('text', tmp_path / 'last_checkpoint')
    assert (tmp_path / 'last_checkpoint').read_text() == 'text'


def test_put_is_atomic_replace(tmp_path, monkeypatch):
    # Without the fix LocalBackend.put opens the final path for writing.
    opened = []
    real_open = open

    def spy_open(file, *args, **kwargs):
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr('builtins.open', spy_open)
    LocalBackend().put(b'x', tmp_path / 'c.pth')
    assert str(tmp_path / 'c.pth') not in opened
    assert (tmp_path / 'c.pth').read_bytes() == b'x'


def test_cpu_distributed_init_and_ddp(tmp_path, monkeypatch):
    # Without the fix: torch.cuda.set_device fails ("no NVIDIA driver") and
    # DDP rejects device_ids for a CPU module.
    import torch.distributed as dist
    from mmengine.dist import init_dist
    from mmengine.model import MMDistributedDataParallel
    if torch.cuda.is_available():
        pytest.skip('checks the CPU-only path')
    monkeypatch.setenv('RANK', '0')
    monkeypatch.setenv('LOCAL_RANK', '0')
    monkeypatch.setenv('WORLD_SIZE', '1')
    monkeypatch.setenv('MASTER_ADDR', '127.0.0.1')
    monkeypatch.setenv('MASTER_PORT', '29533')
    with pytest.warns(UserWarning, match='gloo'):
        init_dist('pytorch', backend='nccl')
    try:
        assert dist.get_backend() == 'gloo'
        ddp = MMDistributedDataParallel(
            module=torch.nn.Linear(2, 1), device_ids=[0])
        assert ddp.device_ids is None
        assert ddp(torch.ones(1, 2)).shape == (1, 1)
    finally:
        dist.destroy_process_group()


def test_text_file_is_not_a_checkpoint(tmp_path):
    (tmp_path / 'notes.pth').write_text('a\nb\n' * 10)
    with pytest.raises(CheckpointError, match='notes.pth'):
        _load_checkpoint(str(tmp_path / 'notes.pth'))


@pytest.mark.parametrize('umask', [0o022, 0o002, 0o077])
def test_saved_files_get_plain_write_permissions(tmp_path, umask):
    # Without the fix the temporary file (mkstemp: 0600) becomes the
    # checkpoint, whatever the umask.
    old = os.umask(umask)
    try:
        with open(tmp_path / 'plain', 'wb') as f:
            f.write(b'x')
        LocalBackend().put(b'x', tmp_path / 'epoch_1.pth')
        LocalBackend().put_text('x', tmp_path / 'last_checkpoint')
    finally:
        os.umask(old)
    plain = stat.S_IMODE(os.stat(tmp_path / 'plain').st_mode)
    assert plain == 0o666 & ~umask
    for name in ('epoch_1.pth', 'last_checkpoint'):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == plain


def _killed_save(dirname, target, data=b'half a checkpoint'):
    """What a save killed mid-write leaves: the temporary file, unlocked."""
    fd, tmp = compat._create_temp(str(dirname), target)
    os.write(fd, data)
    os.close(fd)  # the kernel releases the lock of a killed process
    return os.path.basename(tmp)


#: Names like a temporary's that are not one (or not a file) and stay.
LOOKALIKES = [
    '.epoch_2.pth.tmp', 'epoch_2.pth.0123abcd.tmp', '.epoch_2.pth.0123abc.tmp',
    '.epoch_2.pth.0123abcde.tmp', '.epoch_2.pth.0123ABCD.tmp',
    '.epoch_2.pth.0123abcd.tmp.bak', '.epoch_2.pth0123abcd.tmp',
    '.0123abcd.tmp', '.epoch_2.pth.0123abcg.tmp', 'notes.txt'
]


def _lookalikes(dirname):
    for name in LOOKALIKES:
        (dirname / name).write_bytes(b'user data')
    (dirname / '.dir.0123abcd.tmp').mkdir()
    (dirname / '.link.0123abcd.tmp').symlink_to(dirname / 'notes.txt')
    return set(LOOKALIKES) | {'.dir.0123abcd.tmp', '.link.0123abcd.tmp'}


def test_remove_stale_temporaries(tmp_path):
    stale = {_killed_save(tmp_path, 'epoch_2.pth'),
             _killed_save(tmp_path, 'last_checkpoint')}
    assert all(compat._TEMP_NAME.fullmatch(name) for name in stale)
    user = _lookalikes(tmp_path)
    # a save in progress (here: in this process) keeps its temporary file
    fd, live = compat._create_temp(str(tmp_path), 'epoch_3.pth')
    try:
        removed = compat.remove_stale_temporaries(str(tmp_path))
        assert sorted(removed) == sorted(str(tmp_path / n) for n in stale)
        assert set(os.listdir(tmp_path)) == user | {os.path.basename(live)}
    finally:
        os.close(fd)
    assert (tmp_path / 'notes.txt').read_bytes() == b'user data'
    assert compat.remove_stale_temporaries(str(tmp_path)) == [live]
    assert compat.remove_stale_temporaries(str(tmp_path / 'missing')) == []


class _ToyModel(BaseModel):

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(inputs)
        return dict(loss=(out - 1).pow(2).mean()) if mode == 'loss' else out


def _runner(work_dir, max_epochs, resume=False):
    data = [dict(inputs=torch.randn(2)) for _ in range(4)]
    return Runner(
        model=_ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=DataLoader(data, batch_size=2),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        resume=resume,
        experiment_name=f'compat_{work_dir.name}_{max_epochs}')


def test_stale_temporaries_removed_on_save_and_resume(tmp_path):
    user = _lookalikes(tmp_path)
    stale = _killed_save(tmp_path, 'epoch_1.pth')
    _runner(tmp_path, 1).train()  # saves epoch_1.pth
    names = set(os.listdir(tmp_path))
    assert stale not in names and user <= names
    assert {'epoch_1.pth', 'last_checkpoint'} <= names
    # killed while saving epoch 2; the next run resumes from epoch 1
    stale = _killed_save(tmp_path, 'epoch_2.pth')
    runner = _runner(tmp_path, 2, resume=True)
    runner.load_or_resume()
    assert runner.epoch == 1
    names = set(os.listdir(tmp_path))
    assert stale not in names and user <= names


@pytest.mark.parametrize('hue_factor', [-0.3, -0.02, 0.0, 0.1, 0.45])
def test_hue_jitter_with_negative_factors(hue_factor):
    from PIL import Image
    from torchvision.transforms import functional as TF

    import mmcv
    from mmext.utils import compat
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (9, 7, 3), dtype=np.uint8)  # BGR
    if hue_factor < 0:
        # mmcv 2.1.0 alone under NumPy 2
        with pytest.raises(OverflowError):
            compat._orig_adjust_hue(img, hue_factor, backend='pillow')
    out = mmcv.adjust_hue(img, hue_factor, backend='pillow')
    # torchvision's PIL implementation, on the RGB image
    ref = np.array(TF.adjust_hue(Image.fromarray(img[..., ::-1]),
                                 hue_factor))[..., ::-1]
    np.testing.assert_array_equal(out, ref)
