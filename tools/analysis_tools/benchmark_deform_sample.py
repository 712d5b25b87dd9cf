"""Benchmark mmext's deformable sampling op against ``F.grid_sample``.

Forward+backward time and peak memory at DAT-T's stage-3 and stage-4 shapes
(batch 32): the key/value sampling (B*G maps of C/G channels at Hk x Wk
points) and the relative-position-bias sampling (B*G tables of heads/G
channels at HW x Hk*Wk displacements); plus one DAT-T training step (batch
8, 224x224) with the op and with ``F.grid_sample``. Op and reference are
timed side by side (alternating calls, medians), and the ratios are checked
against issue 16's targets (:func:`format_targets`). Importable:
``tools/analysis_tools/benchmark_ops.py`` calls :func:`run`,
:func:`format_rows` and :func:`format_targets`.

Usage::

    python tools/analysis_tools/benchmark_deform_sample.py [--repeats 5]
        [--batch 32] [--no-model]
"""
import argparse
import importlib
import statistics
import time
from contextlib import contextmanager
from typing import (Callable, Dict, Iterator, List, Optional, Sequence,
                    Tuple)

import torch
from torch.profiler import ProfilerActivity, profile

from mmext.ops import deform_sample, deform_sample_reference, ext_available

# (name, maps = B*G, channels, H, W, Hk, Wk) per batch image; DAT-T at 224:
# stage 3 is 14x14 with 3 groups of 128 channels (12 heads, 4 per group),
# stage 4 is 7x7 with 6 groups of 128 channels (24 heads); stride 1.
DAT_T_SHAPES = (
    ('stage3 kv', 3, 128, 14, 14, 14, 14),
    ('stage3 rpe', 3, 4, 27, 27, 196, 196),
    ('stage4 kv', 6, 128, 7, 7, 7, 7),
    ('stage4 rpe', 6, 4, 13, 13, 49, 49),
)
#: Issue 16's targets: fwd+bwd time op / F.grid_sample at every shape, and
#: the DAT-T training step with the op / with the F.grid_sample fallback.
OP_TARGET = 0.5
MODEL_TARGET = 0.93


def peak_memory(fn: Callable[[], object], device: str = 'cpu') -> int:
    """Peak bytes of tensor memory allocated while ``fn`` runs (on CUDA:
    ``torch.cuda.max_memory_allocated`` above what was allocated before)."""
    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - base
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as p:
        fn()
    events = [
        e for e in p.profiler.kineto_results.events()
        if e.name() == '[memory]'
    ]
    events.sort(key=lambda e: e.start_ns())
    current = peak = 0
    for e in events:
        current += e.nbytes()
        peak = max(peak, current)
    return peak


def time_it(fn: Callable[[], object],
            repeats: int,
            device: str = 'cpu',
            warmup: bool = True) -> float:
    """Median wall time of ``fn`` in seconds (after one warm-up call, unless
    ``warmup`` is False)."""

    def sync() -> None:
        if torch.device(device).type == 'cuda':
            torch.cuda.synchronize(device)

    if warmup:
        fn()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def time_pair(first: Callable[[], object], second: Callable[[], object],
              repeats: int, device: str = 'cpu') -> Tuple[float, float]:
    """Median wall times (s) of two functions timed side by side: after a
    warm-up call of each, ``repeats`` rounds that call both, in alternating
    order, so that both see the same load on a shared machine."""
    first()
    second()
    times: Tuple[List[float], List[float]] = ([], [])
    for i in range(repeats):
        for k in ((0, 1) if i % 2 == 0 else (1, 0)):
            times[k].append(time_it((first, second)[k], 1, device,
                                    warmup=False))
    return (statistics.median(times[0]), statistics.median(times[1]))


def _fwd_bwd(sample: Callable, x: torch.Tensor,
             g: torch.Tensor) -> Callable[[], None]:
    """Forward and backward with a dense incoming gradient, as inside the
    network (the stride-0 gradient of ``.sum()`` would favour the op)."""
    grad = torch.randn(
        x.shape[0], x.shape[1], g.shape[1], g.shape[2], device=x.device)

    def step() -> None:
        xi = x.detach().requires_grad_()
        gi = g.detach().requires_grad_()
        sample(xi, gi).backward(grad)

    return step


@contextmanager
def reference_sampling() -> Iterator[None]:
    """Make :func:`mmext.ops.deform_sample` take its ``F.grid_sample`` path."""
    module = importlib.import_module('mmext.ops.deform_sample')
    original = module._use_kernel
    module._use_kernel = lambda device_type: False
    try:
        yield
    finally:
        module._use_kernel = original


def kernel_time(fn: Callable[[], object], repeats: int) -> float:
    """Seconds per call of ``fn`` spent in CUDA kernels (torch.profiler's
    device time), without the CPU-side dispatch, launches and syncs."""
    fn()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(repeats):
            fn()
        torch.cuda.synchronize()
    total_us = sum(e.self_device_time_total for e in prof.key_averages())
    return total_us / 1e6 / repeats


@contextmanager
def without_value_checks() -> Iterator[None]:
    """Make :func:`mmext.ops.deform_sample` skip its NaN/Inf checks (one
    reduction and one host sync per argument), to show what they cost."""
    module = importlib.import_module('mmext.ops.deform_sample')
    original = module.check_finite
    module.check_finite = lambda *args, **kwargs: None
    try:
        yield
    finally:
        module.check_finite = original


def bench_op(batch: int = 32, repeats: int = 5,
             shapes: Sequence[tuple] = DAT_T_SHAPES,
             device: str = 'cpu') -> List[Dict]:
    """One row per shape: time (s) and peak memory (bytes), op vs reference."""
    rows = []
    torch.manual_seed(0)
    for name, groups, c, h, w, hk, wk in shapes:
        n = batch * groups
        x = torch.randn(n, c, h, w).to(device)
        g = (torch.rand(n, hk, wk, 2) * 2.4 - 1.2).to(device)
        op = _fwd_bwd(deform_sample, x, g)
        ref = _fwd_bwd(deform_sample_reference, x, g)
        row = dict(
            name=f'{name} ({n}x{c}x{h}x{w} @ {hk}x{wk})',
            **dict(zip(('op_time', 'ref_time'),
                       time_pair(op, ref, repeats, device))),
            op_mem=peak_memory(op, device),
            ref_mem=peak_memory(ref, device))
        if torch.device(device).type == 'cuda':
            # where the time goes: the kernels alone, and the op without
            # its value checks (their syncs stall the launch queue)
            row.update(op_kernel=kernel_time(op, repeats),
                       ref_kernel=kernel_time(ref, repeats))
            with without_value_checks():
                row['op_unchecked_time'] = time_pair(op, ref, repeats,
                                                     device)[0]
        rows.append(row)
    return rows


def bench_fusion_headroom(batch: int = 32, repeats: int = 5) -> List[Dict]:
    """What fusing the 1x1 key/value projections into the sampling could
    save: fwd+bwd time of the sampling alone vs sampling + both projections
    at DAT-T's deformable-block shapes, and the bytes of the sampled tensor a
    fused kernel would not store."""
    rows = []
    torch.manual_seed(0)
    for name, groups, c, h, w, hk, wk in DAT_T_SHAPES:
        if 'kv' not in name:
            continue
        n, channels = batch * groups, c * groups
        x = torch.randn(n, c, h, w)
        g = torch.rand(n, hk, wk, 2) * 2.4 - 1.2
        proj_k = torch.nn.Conv2d(channels, channels, 1)
        proj_v = torch.nn.Conv2d(channels, channels, 1)

        def sample_project(x=x, g=g, b=batch, ch=channels) -> None:
            s = deform_sample(x.detach().requires_grad_(),
                              g.detach().requires_grad_())
            s = s.reshape(b, ch, 1, -1)
            (proj_k(s).sum() + proj_v(s).sum()).backward()

        sample = _fwd_bwd(deform_sample, x, g)
        rows.append(
            dict(
                name=name,
                sample_time=time_it(sample, repeats),
                total_time=time_it(sample_project, repeats),
                sampled_bytes=x.element_size() * n * c * hk * wk))
    return rows


def bench_model(batch: int = 8, repeats: int = 3) -> Dict:
    """One DAT-T training step (forward, loss, backward) at 224x224."""
    from mmext.models.backbones.dat import DAT
    torch.manual_seed(0)
    backbone = DAT(arch='tiny', drop_path_rate=0.2).train()
    head = torch.nn.Linear(768, 1000)
    x = torch.randn(batch, 3, 224, 224)
    y = torch.randint(0, 1000, (batch, ))

    def step() -> None:
        backbone.zero_grad(set_to_none=True)
        logits = head(backbone(x)[-1].mean((2, 3)))
        torch.nn.functional.cross_entropy(logits, y).backward()

    def reference_step() -> None:
        with reference_sampling():
            step()

    op_time, ref_time = time_pair(step, reference_step, repeats)
    # the first profiled step also counts one-time allocations (~100 MiB
    # more at batch 8), whichever path it takes
    peak_memory(step)
    return dict(
        name=f'DAT-T train step (batch {batch}, 224x224)',
        op_time=op_time,
        ref_time=ref_time,
        op_mem=peak_memory(step),
        ref_mem=peak_memory(reference_step))


def run(batch: int = 32,
        repeats: int = 5,
        model: bool = True,
        model_batch: int = 8,
        device: str = 'cpu') -> List[Dict]:
    """All rows: op shapes on ``device``, then (optionally) the whole-model
    step (CPU)."""
    rows = bench_op(batch, repeats, device=device)
    if model:
        rows.append(bench_model(model_batch, repeats))
    return rows


def format_headroom(rows: Sequence[Dict]) -> str:
    """Plain-text lines for :func:`bench_fusion_headroom`."""
    lines = ['fusion headroom (fwd+bwd, op path):']
    for r in rows:
        lines.append(
            f'  {r["name"]}: sampling {r["sample_time"] * 1e3:.1f} ms of '
            f'{r["total_time"] * 1e3:.1f} ms with the k/v projections '
            f'({100 * r["sample_time"] / r["total_time"]:.0f}%); the sampled '
            f'tensor a fused kernel would skip: '
            f'{r["sampled_bytes"] / 2**20:.1f} MiB')
    return '\n'.join(lines)


def format_rows(rows: Sequence[Dict]) -> str:
    """A plain-text table: times in ms, memory in MiB, ratios op/ref."""
    head = (f'{"deform_sample vs F.grid_sample (fwd+bwd)":<52}'
            f'{"op ms":>9}{"ref ms":>9}{"ratio":>7}'
            f'{"op MiB":>9}{"ref MiB":>9}{"ratio":>7}')
    lines = [head, '-' * len(head)]
    for r in rows:
        lines.append(
            f'{r["name"]:<52}{r["op_time"] * 1e3:>9.1f}'
            f'{r["ref_time"] * 1e3:>9.1f}'
            f'{r["op_time"] / r["ref_time"]:>7.2f}'
            f'{r["op_mem"] / 2**20:>9.1f}{r["ref_mem"] / 2**20:>9.1f}'
            f'{r["op_mem"] / max(r["ref_mem"], 1):>7.2f}')
    gpu = [r for r in rows if 'op_kernel' in r]
    if gpu:
        head = (f'{"on the GPU: kernels only, and without value checks":<52}'
                f'{"op ms":>9}{"ref ms":>9}{"ratio":>7}'
                f'{"unchecked ms":>14}{"ratio":>7}')
        lines += ['', head, '-' * len(head)]
        for r in gpu:
            lines.append(
                f'{r["name"]:<52}{r["op_kernel"] * 1e3:>9.3f}'
                f'{r["ref_kernel"] * 1e3:>9.3f}'
                f'{r["op_kernel"] / r["ref_kernel"]:>7.2f}'
                f'{r["op_unchecked_time"] * 1e3:>14.2f}'
                f'{r["op_unchecked_time"] / r["ref_time"]:>7.2f}')
    return '\n'.join(lines)


def format_targets(rows: Sequence[Dict]) -> str:
    """The issue's targets against the rows of :func:`run`: fwd+bwd at most
    :data:`OP_TARGET` x F.grid_sample's time at every shape, no more peak
    memory, and the DAT-T step at most :data:`MODEL_TARGET` x the step with
    the F.grid_sample fallback."""
    ops = [r for r in rows if not r['name'].startswith('DAT-T')]
    lines = ['targets:']
    if ops:
        worst = max(ops, key=lambda r: r['op_time'] / r['ref_time'])
        ratio = worst['op_time'] / worst['ref_time']
        lines.append(
            f'  op / F.grid_sample fwd+bwd: worst {ratio:.2f} '
            f'({worst["name"]}), target <= {OP_TARGET} '
            f'{"ok" if ratio <= OP_TARGET else "MISSED"}')
        memory = max(r['op_mem'] / max(r['ref_mem'], 1) for r in ops)
        lines.append(f'  peak memory op / F.grid_sample: worst '
                     f'{memory:.2f}, target <= 1 '
                     f'{"ok" if memory <= 1 else "MISSED"}')
    for r in rows:
        if r['name'].startswith('DAT-T'):
            ratio = r['op_time'] / r['ref_time']
            lines.append(
                f'  DAT-T step op / fallback: {ratio:.2f}, target <= '
                f'{MODEL_TARGET} {"ok" if ratio <= MODEL_TARGET else "MISSED"}')
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--model-batch', type=int, default=8)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument(
        '--no-model',
        action='store_true',
        help='skip the whole-model DAT-T training step')
    args = parser.parse_args(argv)
    if not ext_available():
        print('mmext._ext is not built: both columns use F.grid_sample')
    print(f'torch threads: {torch.get_num_threads()}')
    rows = run(args.batch, args.repeats, not args.no_model, args.model_batch)
    print(format_rows(rows))
    print(format_targets(rows))
    print(format_headroom(bench_fusion_headroom(args.batch, args.repeats)))


if __name__ == '__main__':
    main()
