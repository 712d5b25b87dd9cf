"""tools/gpu_check.sh: the CPU rehearsal (--dry-run) of the GPU check runs
every step up to the CUDA calls, and a failing step is named in the summary
without stopping the others.

Nothing is downloaded: the wheels dir is built from distributions installed
in this environment (pure-Python ones, repacked as wheels), with mmaction2's
installed drn fix undone so that the check has to apply it again in its own
temporary directory. mmcv comes from this environment (the real run installs
the pure-Python mmcv-lite wheel that tools/misc/prepare_gpu_wheels.sh
builds). The build step copies the checkout's extension (--reuse-ext)
instead of compiling it, which takes 3 to 15 minutes on 2 shared cores.
"""
import glob
import importlib.metadata
import json
import os
import os.path as osp
import subprocess
import sys
import zipfile

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO, 'tools', 'gpu_check.sh')
STEPS = ['install', 'build', 'op_tests', 'model_checks', 'bench_ops',
         'bench_models']
DISTS = ['mmengine', 'mmpretrain', 'mmdet', 'mmaction2', 'addict', 'yapf',
         'termcolor']
DRN_MARK = '# mmext: drn optional'
DRN_PATCHED = (f'try:  {DRN_MARK}\n    from .drn.drn import DRN\n'
               'except ImportError:\n    DRN = None\n')
DRN_ORIGINAL = 'from .drn.drn import DRN\n'


def repack_wheel(name: str, dest: str) -> str:
    """A wheel of the installed distribution ``name`` (its RECORD files)."""
    dist = importlib.metadata.distribution(name)
    project = dist.metadata['Name'].replace('-', '_')
    path = osp.join(dest, f'{project}-{dist.version}-py3-none-any.whl')
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as whl:
        for f in dist.files:
            if f.parts[0] == '..' or '__pycache__' in f.parts:
                continue  # console scripts, byte code
            data = f.locate().read_bytes()
            if str(f) == 'mmaction/models/localizers/__init__.py':
                data = data.decode().replace(DRN_PATCHED,
                                             DRN_ORIGINAL).encode()
                assert DRN_MARK.encode() not in data
            whl.writestr(str(f), data)
    return path


def run_check(out, *args, timeout=600):
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1')
    return subprocess.run(['bash', SCRIPT, *args, str(out)],
                          capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=REPO)


def ext_files():
    return {
        p: os.stat(p).st_mtime_ns
        for p in glob.glob(osp.join(REPO, 'mmext', '_ext*.so'))
    }


@pytest.fixture(scope='module')
def wheels(tmp_path_factory):
    dest = tmp_path_factory.mktemp('wheels')
    for name in DISTS:
        repack_wheel(name, str(dest))
    return dest


def test_dry_run(tmp_path, wheels):
    before = ext_files()
    out = tmp_path / 'out'
    proc = run_check(out, '--dry-run', '--reuse-ext', '--wheels', str(wheels))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['dry_run'] and summary['passed']
    assert summary['failures'] == []
    assert [s['step'] for s in summary['steps']] == STEPS
    assert all(s['rc'] == 0 and s['seconds'] > 0 for s in summary['steps'])
    assert sorted(os.listdir(out)) == sorted(
        [f'{s}.log' for s in STEPS] + ['summary.json'])  # <= 8 files back
    for step in STEPS:
        assert f'== [{step}] ok in' in proc.stdout

    install = (out / 'install.log').read_text()
    assert 'mmaction drn: patched' in install  # in the temporary copy
    for module in ('mmengine', 'mmpretrain', 'mmdet', 'mmaction'):
        line = next(x for x in install.splitlines()
                    if x.startswith(module + ' '))
        assert 'mmext_gpu_check' in line, line  # imported from the temp dir
    build = (out / 'build.log').read_text()
    assert '--reuse-ext: copying' in build
    assert 'mmext from /' in build and 'mmext_gpu_check' in build
    # the GPU tests were collected, not run
    op_tests = (out / 'op_tests.log').read_text()
    assert 'test_cuda_ops.py::test_torch_compile_inductor_with_cuda_kernels' \
        in op_tests
    assert int(op_tests.split(' tests collected')[0].split()[-1]) >= 50
    models = (out / 'model_checks.log').read_text()
    assert '5/' in models and 'test_train_step_cuda_ops_vs_fallback' in models
    assert 'units' in (out / 'bench_ops.log').read_text()
    bench = (out / 'bench_models.log').read_text()
    assert 'DAT-T' in bench and 'iSQRT-COV-R50' in bench and 'ops' in bench
    # the checkout's own extension was left alone
    assert ext_files() == before


def test_failed_step_is_named_and_the_others_run(tmp_path):
    out = tmp_path / 'out'
    proc = run_check(out, '--dry-run', '--wheels', str(tmp_path / 'none'),
                     '--steps', 'install op_tests', timeout=300)
    assert proc.returncode == 1
    summary = json.loads((out / 'summary.json').read_text())
    assert not summary['passed']
    assert [(s['step'], s['rc'] == 0) for s in summary['steps']] == [
        ('install', False), ('op_tests', True)]
    (failure, ) = summary['failures']
    assert failure['step'] == 'install'
    assert any('prepare_gpu_wheels' in line for line in failure['tail'])
    assert 'FAILED step install' in proc.stdout


def test_budget_spent_steps_are_not_run(tmp_path):
    out = tmp_path / 'out'
    proc = run_check(out, '--dry-run', '--budget', '1', timeout=120)
    assert proc.returncode == 1
    summary = json.loads((out / 'summary.json').read_text())
    assert [f['step'] for f in summary['failures']] == STEPS
    assert {f['reason'] for f in summary['failures']} == {
        'not run (budget spent)'}
