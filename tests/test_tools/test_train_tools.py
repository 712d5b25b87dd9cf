"""tools/train.py and tools/test.py end to end: bad input stops with one
clear message, --resume continues a killed run, mim and torchrun launch."""
import os
import os.path as osp
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PY = sys.executable
DEMO = 'configs/eca/eca_resnet18_1xb64_30e_digits.py'


def _opts(data, work_dir, extra=()):
    """Options that make the digits demo config a tiny run on smoke data."""
    root = osp.join(data, 'imagenet')
    return [
        '--work-dir', str(work_dir), '--cfg-options',
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
        'train_dataloader.batch_size=4', 'default_hooks.logger.interval=1',
        *extra
    ]


def _run(args, timeout=300, env=None, check=True):
    proc = subprocess.run([PY, *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(proc.stdout[-3000:] + proc.stderr[-3000:])
    return proc


def _fails_with(args, pattern):
    proc = _run(args, check=False, timeout=120)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert re.search(pattern, last), proc.stderr[-2000:]
    return last


def test_wrong_type(smoke_data, tmp_path):
    last = _fails_with(
        ['tools/train.py', DEMO,
         *_opts(smoke_data, tmp_path, ['model.backbone.type=ECAResNt'])],
        r"model\.backbone\.type.*'ECAResNt'.*did you mean.*'ECAResNet'")
    assert DEMO in last


def test_missing_data_root(smoke_data, tmp_path):
    _fails_with(['tools/train.py', DEMO, *_opts(
        smoke_data, tmp_path,
        ['train_dataloader.dataset.data_root=/nonexistent/digits'])],
                r'train_dataloader\.dataset\.data_root.*/nonexistent/digits')


def test_wrong_key_type(smoke_data, tmp_path):
    _fails_with(
        ['tools/train.py', DEMO,
         *_opts(smoke_data, tmp_path, ['train_cfg.max_epochs=two'])],
        r"train_cfg\.max_epochs.*must be int.*'two'")


@pytest.mark.parametrize('content', [b'garbage', None])
def test_bad_checkpoint(smoke_data, tmp_path, content):
    ckpt = tmp_path / 'bad.pth'
    if content is not None:
        ckpt.write_bytes(content)
    pattern = r'bad\.pth.*(not a PyTorch checkpoint|does not exist)'
    _fails_with(['tools/test.py', DEMO, str(ckpt), '--work-dir',
                 str(tmp_path)], pattern)
    _fails_with(['tools/train.py', DEMO,
                 *_opts(smoke_data, tmp_path, [f'load_from={ckpt}'])],
                pattern if content is None else r'bad\.pth')


def _epochs_trained(log_text):
    return sorted({int(m) for m in re.findall(r'Epoch\(train\)\s*\[(\d+)\]',
                                              log_text)})


def test_resume_after_kill(smoke_data, tmp_path):
    work = tmp_path / 'work'
    args = ['tools/train.py', DEMO, *_opts(
        smoke_data, work, ['train_cfg.max_epochs=4',
                           'train_cfg.val_interval=4',
                           'default_hooks.checkpoint.interval=1',
                           'default_hooks.checkpoint.max_keep_ckpts=5',
                           'train_dataloader.batch_size=2'])]
    proc = subprocess.Popen([PY, *args], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    # mmengine writes `last_checkpoint` after the checkpoint it names; kill
    # once that pointer is complete (a kill between the two leaves the
    # previous pointer, i.e. none after the first epoch).
    pointer = work / 'last_checkpoint'
    while not (pointer.exists()
               and re.search(r'epoch_\d+\.pth', pointer.read_text())):
        assert proc.poll() is None, 'training ended before the first save'
        assert time.time() < deadline, 'no checkpoint within 240 s'
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    last = (work / 'last_checkpoint').read_text().strip()
    done = int(re.search(r'epoch_(\d+)\.pth', last).group(1))
    assert done < 4, 'the run finished before it could be killed'
    # Everything a user saved survives: all checkpoints load. Only the
    # temporary file of a save the kill interrupted, if any, is removed.
    from mmext.utils import safe_torch_load
    from mmext.utils.compat import _TEMP_NAME
    for f in work.glob('epoch_*.pth'):
        safe_torch_load(str(f))
    before = {n for n in os.listdir(work) if not _TEMP_NAME.fullmatch(n)}

    out = _run([*args, '--resume'])
    log = out.stdout + out.stderr
    assert f'resumed epoch: {done}' in log or 'Load checkpoint from' in log
    assert _epochs_trained(log) == list(range(done + 1, 5))
    ckpt = safe_torch_load(str(work / 'epoch_4.pth'))
    assert ckpt['meta']['epoch'] == 4
    after = set(os.listdir(work))
    assert before <= after
    assert not [n for n in after if _TEMP_NAME.fullmatch(n)]


def test_torchrun_two_processes_identical_weights(smoke_data, tmp_path):
    worker = osp.join(REPO, 'tests', 'test_tools', 'ddp_worker.py')
    cmd = [PY, '-m', 'torch.distributed.run', '--nproc_per_node=2',
           '--master_port=29517', worker, DEMO,
           *_opts(smoke_data, tmp_path, ['train_cfg.max_epochs=1',
                                         'train_dataloader.batch_size=2'])]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    w0 = torch.load(tmp_path / 'rank0.pth')
    w1 = torch.load(tmp_path / 'rank1.pth')
    assert w0.keys() == w1.keys()
    for k in w0:
        assert torch.equal(w0[k], w1[k]), k
    # Rank 0 also wrote the usual checkpoint.
    assert (tmp_path / 'epoch_1.pth').exists()


@pytest.mark.skipif(shutil.which('mim', path=osp.dirname(PY)) is None,
                    reason='openmim is not installed')
def test_mim_train_and_test(smoke_data, tmp_path):
    mim = shutil.which('mim', path=osp.dirname(PY))
    opts = _opts(smoke_data, tmp_path, ['train_cfg.max_epochs=1'])
    proc = subprocess.run([mim, 'train', 'mmext', DEMO, *opts], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    ckpt = tmp_path / 'epoch_1.pth'
    assert ckpt.exists()
    # From another directory, the config is found inside the package.
    proc = subprocess.run(
        [mim, 'test', 'mmext', osp.basename(DEMO), '--checkpoint', str(ckpt),
         *opts], cwd=str(tmp_path), capture_output=True, text=True,
        timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert 'accuracy/top1' in proc.stdout + proc.stderr


def test_dist_train_script(smoke_data, tmp_path):
    """tools/dist_train.sh launches 2 CPU processes through torchrun."""
    env = {**os.environ, 'PYTHON': PY, 'PORT': '29519'}
    cmd = ['bash', 'tools/dist_train.sh', DEMO, '2',
           *_opts(smoke_data, tmp_path, ['train_cfg.max_epochs=1',
                                         'train_dataloader.batch_size=2',
                                         'env_cfg.dist_cfg.backend=gloo'])]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / 'epoch_1.pth').exists()
    assert 'Distributed training: True' in proc.stdout
