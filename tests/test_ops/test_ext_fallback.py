"""Without the compiled extension every op falls back to its pure-PyTorch
reference, and the user is told exactly once."""
import subprocess
import sys

SCRIPT = r'''
import sys, warnings
sys.modules['mmext._ext'] = None  # makes `import mmext._ext` fail
warnings.simplefilter('always')
with warnings.catch_warnings(record=True) as caught:
    import torch
    import torch.nn.functional as F
    from mmext.ops import deform_sample, ext_available, isqrt_cov
    torch.manual_seed(0)
    x = torch.randn(2, 5, 30, dtype=torch.float64)
    feat = torch.randn(2, 3, 6, 7)
    grid = torch.rand(2, 4, 5, 2) * 2.4 - 1.2
    for _ in range(2):
        y = isqrt_cov(x, 3)
        y_ref = isqrt_cov(x, 3, impl='ref')
        s = deform_sample(feat, grid)
        s_ref = F.grid_sample(feat, grid, mode='bilinear',
                              padding_mode='zeros', align_corners=True)
assert not ext_available()
assert torch.equal(y, y_ref)
assert torch.allclose(s, s_ref, atol=1e-6)
n = sum('compiled ops are not available' in str(w.message) for w in caught)
print('warnings', n)
'''


def test_missing_extension_warns_once_and_falls_back():
    proc = subprocess.run([sys.executable, '-c', SCRIPT], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == 'warnings 1'
