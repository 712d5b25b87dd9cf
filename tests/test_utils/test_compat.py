"""Run-time fixes in mmext.utils.compat; each test fails without its fix."""
import os

import numpy as np
import pytest
import torch
from mmengine.fileio.backends import LocalBackend
from mmengine.logging import MessageHub
from mmengine.runner.checkpoint import _load_checkpoint, save_checkpoint

import mmext  # noqa: F401  (applies the fixes)
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


def test_foreign_pickle_is_not_executed(tmp_path, monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)
    target = tmp_path / 'pwned'
    torch.save({'x': _Evil(str(target))}, tmp_path / 'evil.pth')
    with pytest.raises(CheckpointError, match='evil.pth'):
        _load_checkpoint(str(tmp_path / 'evil.pth'))
    assert not target.exists()


def test_getattr_stand_in_is_restricted(tmp_path):
    # A crafted pickle calling getattr on anything but HistoryBuffer's
    # statistics methods is refused (the real getattr would be an escape).
    import pickle

    class _GetGlobals:

        def __reduce__(self):
            return (getattr, (torch.Tensor, '__init__'))

    with open(tmp_path / 'g.pth', 'wb') as f:
        pickle.dump({'x': _GetGlobals()}, f, protocol=2)
    with pytest.raises(CheckpointError):
        _load_checkpoint(str(tmp_path / 'g.pth'))


def test_trusted_opt_in(tmp_path, monkeypatch):
    from fractions import Fraction  # not a type weights_only allows
    torch.save({'x': Fraction(1, 3)}, tmp_path / 'frac.pth')
    with pytest.raises(CheckpointError, match=TRUST_ENV):
        _load_checkpoint(str(tmp_path / 'frac.pth'))
    monkeypatch.setenv(TRUST_ENV, '1')
    assert _load_checkpoint(str(tmp_path / 'frac.pth'))['x'] == Fraction(1, 3)


@pytest.mark.parametrize('content', [b'not a checkpoint', b''])
def test_not_a_checkpoint(tmp_path, content):
    (tmp_path / 'x.pth').write_bytes(content)
    with pytest.raises(CheckpointError, match='x.pth'):
        _load_checkpoint(str(tmp_path / 'x.pth'))


def test_truncated_checkpoint(tmp_path):
    _mmengine_checkpoint(tmp_path / 'a.pth')
    data = (tmp_path / 'a.pth').read_bytes()
    (tmp_path / 't.pth').write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match='t.pth'):
        _load_checkpoint(str(tmp_path / 't.pth'))


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
