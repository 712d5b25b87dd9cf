"""``mlkp`` section of ``benchmark_ops.py``: forward + backward of the MLKP
block (:class:`mmext.models.necks.MLKPNeck`, VGG16 widths: four 512-channel
inputs, 1024 fused channels, order-2 and order-3 terms of 2048 and 4096
channels, 512 outputs) with the kernel terms computed only at the even
positions the stride-2 output convolution reads (mmext), against the same
block computing them at every position and concatenating 7168 channels as
the authors' prototxt does.

Default size: a 600 x 1000 image (stride-8 maps 75 x 125, stride-16 maps
38 x 63), batch 1, float32. Target: mmext's block in at most 0.4x the time
of the every-position block, the same output and gradients (1e-5
relative).
"""
from typing import Callable, List, Sequence

import torch
from torch import Tensor

from mmext.models.necks import MLKPNeck

#: (batch, image height, image width)
MLKP_SHAPE = (1, 600, 1000)
TIME_TARGET = 0.4
REL_TOL = 1e-5


def make_inputs(batch: int, height: int, width: int,
                device: torch.device) -> List[Tensor]:
    """VGG16 conv4_2, conv4_3 ``(B, 512, H/8, W/8)`` and conv5_2, conv5_3
    ``(B, 512, H/16, W/16)`` (Caffe's ceil-mode sizes), post-ReLU-like."""
    gen = torch.Generator().manual_seed(0)
    h8, w8 = -(-height // 8), -(-width // 8)
    h16, w16 = -(-h8 // 2), -(-w8 // 2)
    return [
        torch.rand(batch, 512, h, w, generator=gen).to(device)
        for h, w in ((h8, w8), (h8, w8), (h16, w16), (h16, w16))
    ]


def _rel_err(a: Tensor, b: Tensor) -> float:
    a, b = a.double(), b.double()
    return ((a - b).norm() / b.norm().clamp_min(1e-30)).item()


def run(shape: Sequence[int], device: torch.device, repeat: int,
        time_fn: Callable, peak_memory_mb: Callable) -> List[dict]:
    """Print and return one row per implementation (``time_fn`` and
    ``peak_memory_mb`` are ``benchmark_ops``' timers)."""
    batch, height, width = shape
    inputs = make_inputs(batch, height, width, device)
    torch.manual_seed(0)
    every = MLKPNeck(even_positions=False).to(device)
    every.init_weights()
    even = MLKPNeck(even_positions=True).to(device)
    even.load_state_dict(every.state_dict())
    grad_out = None

    def fwd_bwd(neck: MLKPNeck) -> Callable[[], tuple]:

        def call():
            nonlocal grad_out
            xs = [x.detach().requires_grad_() for x in inputs]
            out, = neck(xs)
            if grad_out is None:
                grad_out = torch.randn_like(out)
            grads = torch.autograd.grad(out, xs + [neck.out_conv.weight],
                                        grad_out)
            return (out.detach(), ) + grads

        return call

    print(f'== mlkp: MLKP block forward + backward (VGG16 widths), batch '
          f'{batch}, {height} x {width} image, float32, {device}, '
          f'{torch.get_num_threads()} threads ==')
    rows, values = [], {}
    for name, neck in (('every position', every), ('mmext even', even)):
        call = fwd_bwd(neck)
        seconds, _ = time_fn(call, device, repeat)
        rows.append(dict(impl=name, shape=tuple(shape), seconds=seconds,
                         peak_mb=peak_memory_mb(call, device)))
        values[name] = call()
    print(f'{"implementation":<16}{"s":>9}{"peak MiB":>10}{"time ratio":>12}'
          '   rel err out/grads')
    for r in rows:
        r['ratio'] = r['seconds'] / rows[0]['seconds']
        r['rel_err'] = tuple(
            _rel_err(a, b)
            for a, b in zip(values[r['impl']], values['every position']))
        peak = 'n/a' if r['peak_mb'] is None else f'{r["peak_mb"]:.0f}'
        errs = ' '.join(f'{e:.1e}' for e in r['rel_err'])
        print(f'{r["impl"]:<16}{r["seconds"]:>9.3f}{peak:>10}'
              f'{r["ratio"]:>12.3f}   {errs}')
    ours = rows[1]
    print(f'target: time {ours["ratio"]:.3f} of every-position (<= '
          f'{TIME_TARGET}) {"ok" if ours["ratio"] <= TIME_TARGET else "MISSED"}'
          f'; max rel err {max(ours["rel_err"]):.1e} (<= {REL_TOL}) '
          f'{"ok" if max(ours["rel_err"]) <= REL_TOL else "MISSED"}')
    return rows
