"""Training throughput of classifiers with mmext's compiled ops against the
pure-PyTorch fallbacks, side by side in one process.

For each model (:data:`mmext.testing.train_step.MODEL_CONFIGS`, built from
its config): forward, cross entropy, backward and an SGD step on random
images, with mixed precision by default (``torch.autocast``, float16 with a
gradient scaler, as ``tools/train.py --amp``). The two implementations are
timed in alternating rounds (``--rounds``) so that both see the same machine
state; each row gives the median images/s over the rounds and the peak
memory of a step (CUDA only). A target line compares the two: the issue's
target is DAT-T with the op at least as fast as with ``F.grid_sample``.

Usage::

    python tools/analysis_tools/benchmark_train_throughput.py
        [--models DAT-T iSQRT-COV-R50] [--device cuda] [--batch 64]
        [--size 224] [--steps 10] [--warmup 3] [--rounds 2] [--no-amp]
"""
import argparse
import copy
import statistics
import sys
import time
from contextlib import nullcontext
from typing import Dict, List, Optional, Sequence

import torch

from mmext.ops import ext_available
from mmext.testing.train_step import (MODEL_CONFIGS, build_classifier,
                                      loss_fn, reference_ops)

#: model -> minimum ops/fallback throughput ratio (the issue's target).
TARGETS = {'DAT-T': 1.0}


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


class _Trainer:
    """A model, its optimizer and scaler, and a step on fixed inputs."""

    def __init__(self, model, x, y, amp: bool, reference: bool):
        self.model, self.x, self.y = model, x, y
        self.reference = reference
        self.device = x.device
        self.amp = amp
        self.optimizer = torch.optim.SGD(
            model.parameters(), lr=1e-3, momentum=0.9)
        self.scaler = torch.amp.GradScaler(
            self.device.type, enabled=amp and self.device.type == 'cuda')

    def step(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(self.device.type,
                            dtype=torch.float16 if self.device.type == 'cuda'
                            else torch.bfloat16, enabled=self.amp):
            loss = loss_fn(self.model, self.x, self.y)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()

    def run(self, steps: int) -> float:
        """Seconds for ``steps`` steps."""
        with reference_ops() if self.reference else nullcontext():
            _sync(self.device)
            start = time.perf_counter()
            for _ in range(steps):
                self.step()
            _sync(self.device)
            return time.perf_counter() - start


def benchmark_model(name: str, args: argparse.Namespace) -> List[Dict]:
    """One row per implementation ('ops', 'fallback') of model ``name``."""
    device = torch.device(args.device)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(args.batch, 3, args.size, args.size,
                    generator=gen).to(device)
    y = torch.randint(0, 1000, (args.batch, ), generator=gen).to(device)
    base = build_classifier(name)
    impls = ['ops', 'fallback'] if ext_available() else ['fallback']
    trainers = {}
    for impl in impls:
        model = copy.deepcopy(base).to(device).train()
        trainers[impl] = _Trainer(model, x, y, args.amp, impl == 'fallback')
    del base
    peaks: Dict[str, Optional[float]] = {}
    for impl, trainer in trainers.items():
        trainer.run(args.warmup)  # cuDNN/autotuning, optimizer state
        if device.type == 'cuda':
            torch.cuda.reset_peak_memory_stats(device)
            before = torch.cuda.memory_allocated(device)
            trainer.run(1)
            peaks[impl] = (torch.cuda.max_memory_allocated(device) -
                           before) / 2**20
        else:
            peaks[impl] = None
    rates: Dict[str, List[float]] = {impl: [] for impl in impls}
    for _ in range(args.rounds):
        for impl, trainer in trainers.items():
            rates[impl].append(args.batch * args.steps /
                               trainer.run(args.steps))
    rows = [
        dict(
            model=name,
            impl=impl,
            images_per_s=statistics.median(rates[impl]),
            peak_mb=peaks[impl],
            batch=args.batch,
            size=args.size,
            amp=args.amp,
            device=str(device)) for impl in impls
    ]
    del trainers
    if device.type == 'cuda':
        torch.cuda.empty_cache()
    return rows


def format_rows(rows: Sequence[Dict]) -> str:
    head = f'{"model":<16}{"impl":<10}{"images/s":>10}{"peak MiB":>10}'
    lines = [head, '-' * len(head)]
    for r in rows:
        peak = 'n/a' if r['peak_mb'] is None else f'{r["peak_mb"]:.0f}'
        lines.append(f'{r["model"]:<16}{r["impl"]:<10}'
                     f'{r["images_per_s"]:>10.1f}{peak:>10}')
    return '\n'.join(lines)


def format_targets(rows: Sequence[Dict]) -> str:
    """One line per model: ops / fallback throughput, with its target."""
    by = {(r['model'], r['impl']): r for r in rows}
    lines = ['targets (throughput with the ops / with the fallbacks):']
    for model in dict.fromkeys(r['model'] for r in rows):
        if (model, 'ops') not in by:
            lines.append(f'  {model}: extension not built, no comparison')
            continue
        ratio = (by[(model, 'ops')]['images_per_s'] /
                 by[(model, 'fallback')]['images_per_s'])
        line = f'  {model}: {ratio:.2f}x'
        if model in TARGETS:
            ok = ratio >= TARGETS[model]
            line += (f' (target >= {TARGETS[model]:.1f}x) '
                     f'{"ok" if ok else "MISSED"}')
        lines.append(line)
    return '\n'.join(lines)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--models', nargs='+', choices=sorted(MODEL_CONFIGS),
        default=['DAT-T', 'iSQRT-COV-R50'])
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--batch', type=int, default=64)
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--steps', type=int, default=10,
                        help='timed steps per round')
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--rounds', type=int, default=2,
                        help='alternating rounds per implementation')
    parser.add_argument('--no-amp', dest='amp', action='store_false',
                        help='float32 instead of mixed precision')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    device = torch.device(args.device)
    label = (torch.cuda.get_device_name(device) if device.type == 'cuda'
             else f'cpu, {torch.get_num_threads()} threads')
    print(f'== training throughput: batch {args.batch}, {args.size}x'
          f'{args.size}, {"AMP" if args.amp else "float32"}, {label}, '
          f'torch {torch.__version__} ==')
    rows = []
    for name in args.models:
        rows += benchmark_model(name, args)
    print(format_rows(rows))
    print(format_targets(rows))
    return 0


if __name__ == '__main__':
    sys.exit(main())
