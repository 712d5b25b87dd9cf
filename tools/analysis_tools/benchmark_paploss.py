"""``paploss`` section of ``benchmark_ops.py``: forward + backward of
:class:`mmext.models.losses.PAPLoss` (sorted prefix sums) against a
re-creation of the authors' dense computation (one-hot targets and
qualities over all entries, the ``top-k x positives`` matrices of logit
gaps and of the five curves, the curves evaluated by counting the control
points below each value as ``paploss.py::_linear`` does).

Default scale: RetinaNet at 512 x 512 as in the authors' search and
training, 8 images x 32,736 anchors x 80 classes, 600 positive entries,
top-k 100,000, the ``retinanet`` preset. Targets: >= 20x faster, <= 1/10 of
the peak memory, loss and gradients (logits, quality) within 1e-6 relative.

Errors are given against the authors' dense computation and against a
float64 evaluation of the same inputs (mmext's loss in float64, which the
test suite checks against a float64 dense re-creation to 1e-10): in float32
the dense computation's own rounding of ``x_ij``, amplified by the curves'
steep pieces, is of the order of 1e-6.
"""
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from mmext.models.losses import PAPLoss
from mmext.models.losses.parameterized_ap_loss import PAP_PRESETS

#: (images, anchors per image, classes, positive entries, top-k)
PAP_SHAPE = (8, 32736, 80, 600, 100000)
SPEEDUP_TARGET = 20.0
MEMORY_TARGET = 0.1
REL_TOL = 1e-6
#: Row order of the authors' ``ctrl_points``.
AUTHORS_ORDER = ('H2', 'I2', 'I3', 'I1', 'H1')


def make_problem(images: int, anchors: int, classes: int, positives: int,
                 device: torch.device,
                 seed: int = 0) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Logits ``(N, C)`` around the focal-loss prior (positives raised),
    labels ``(N, )`` (``C`` = background), qualities ``(N, )`` and weights
    ``(N, )`` with 2% ignored rows, ``N = images * anchors``."""
    gen = torch.Generator().manual_seed(seed)
    num = images * anchors
    logits = torch.randn(num, classes, generator=gen) * 1.5 - 4.0
    labels = torch.full((num, ), classes, dtype=torch.long)
    rows = torch.randperm(num, generator=gen)
    pos = rows[:positives]
    labels[pos] = torch.randint(0, classes, (positives, ), generator=gen)
    logits[pos, labels[pos]] += 3.0
    quality = torch.rand(num, generator=gen) * 0.7 + 0.3
    weight = torch.ones(num)
    weight[rows[positives:positives + num // 50]] = 0
    return (logits.to(device), labels.to(device), quality.to(device),
            weight.to(device))


def _authors_curve(x: Tensor, points: Tensor) -> Tensor:
    """Piecewise-linear curve, the segment found by counting control-point
    ``x`` values below each input (a ``(..., 6)`` comparison)."""
    px, py = points[0::2], points[1::2]
    seg = (x[..., None] > px).sum(-1) + (px == 0).sum() * (x == 0) - 1
    return (py[seg + 1] - py[seg]) / (px[seg + 1] - px[seg]) * \
        (x - px[seg]) + py[seg]


def authors_dense(logits: Tensor, labels: Tensor, quality: Tensor,
                  weight: Tensor, ctrl_points: Tensor,
                  num_topk: int) -> Tensor:
    """The authors' head + loss computation: ``(N, C)`` one-hot targets
    (-1 on ignored rows) and qualities, all ``top-k x P`` matrices at once.
    ``ctrl_points``: ``(5, 12)`` in :data:`AUTHORS_ORDER`."""
    num, classes = logits.shape
    targets = torch.zeros_like(logits, dtype=torch.long)
    pos = (labels < classes).nonzero()[:, 0]
    targets[pos, labels[pos]] = 1
    targets[weight == 0] = -1
    ious = quality[:, None].repeat(1, classes) * (targets == 1)
    pos_idx, valid_idx = targets == 1, targets != -1
    pos_logits, pos_ious = logits[pos_idx], ious[pos_idx]
    all_logits, all_ious = logits[valid_idx], ious[valid_idx]
    top_logits, top = all_logits.topk(min(num_topk, len(all_logits)))
    top_ious = all_ious[top]
    diff = top_logits[:, None] - pos_logits[None, :]
    x = (diff / 2 + 0.5).clamp(0, 1)
    h2 = _authors_curve(x, ctrl_points[0])
    i2 = _authors_curve(top_ious, ctrl_points[1])[:, None]
    i3 = _authors_curve(pos_ious, ctrl_points[2])[None, :]
    i1 = _authors_curve(pos_ious, ctrl_points[3])
    h1 = _authors_curve(x, ctrl_points[4]).detach()
    loss = (1 - i1) + (h2 * (1 - i2) * i3).sum(0) / h1.sum(0)
    return loss.sum() / (len(pos_logits) + 1e-8)


def _fwd_bwd(fn: Callable[..., Tensor], logits: Tensor, labels: Tensor,
             quality: Tensor, weight: Tensor) -> Callable[[], tuple]:

    def run():
        s = logits.detach().requires_grad_()
        q = quality.detach().requires_grad_()
        value = fn(s, labels, q, weight)
        gs, gq = torch.autograd.grad(value, (s, q))
        return value.detach(), gs, gq

    return run


def _rel_err(a: Tensor, b: Tensor) -> float:
    a, b = a.double(), b.double()
    return ((a - b).norm() / b.norm().clamp_min(1e-30)).item()


def run(shape: Sequence[int], preset: str, device: torch.device, repeat: int,
        time_fn: Callable, peak_memory_mb: Callable) -> List[dict]:
    """Print and return one row per implementation (``time_fn`` and
    ``peak_memory_mb`` are ``benchmark_ops``' timers)."""
    images, anchors, classes, positives, topk = shape
    logits, labels, quality, weight = make_problem(images, anchors, classes,
                                                   positives, device)
    points = PAP_PRESETS[preset]['ctrl_points']
    table = torch.tensor([points[k] for k in AUTHORS_ORDER],
                         dtype=torch.float32, device=device)
    impls: Dict[str, Callable[..., Tensor]] = {
        'authors dense': lambda *a: authors_dense(*a, table, topk),
        'mmext sorted': PAPLoss(preset=preset, num_topk=topk,
                                impl='sorted').to(device),
    }
    print(f'== paploss: PAPLoss forward + backward, {images} images x '
          f'{anchors} anchors x {classes} classes, {positives} positives, '
          f'top-k {topk}, preset {preset!r}, float32, {device}, '
          f'{torch.get_num_threads()} threads ==')
    rows, values = [], {}
    for name, fn in impls.items():
        call = _fwd_bwd(fn, logits, labels, quality, weight)
        seconds, _ = time_fn(call, device, repeat)
        rows.append(dict(impl=name, shape=tuple(shape), seconds=seconds,
                         peak_mb=peak_memory_mb(call, device)))
        values[name] = call()
    call64 = _fwd_bwd(impls['mmext sorted'], logits.double(), labels,
                      quality.double(), weight.double())
    ref64, ref = call64(), values['authors dense']
    print(f'{"implementation":<16}{"s":>9}{"peak MiB":>10}{"speedup":>9}'
          f'{"mem ratio":>11}   rel err loss/grad s/grad u: vs dense, '
          'vs float64')
    dense = rows[0]
    for r in rows:
        r['speedup'] = dense['seconds'] / r['seconds']
        r['mem_ratio'] = (r['peak_mb'] / dense['peak_mb']
                          if r['peak_mb'] is not None and dense['peak_mb']
                          else None)
        r['rel_err'] = tuple(
            _rel_err(a, b) for a, b in zip(values[r['impl']], ref))
        r['rel_err64'] = tuple(
            _rel_err(a, b) for a, b in zip(values[r['impl']], ref64))
        peak = 'n/a' if r['peak_mb'] is None else f'{r["peak_mb"]:.0f}'
        ratio = 'n/a' if r['mem_ratio'] is None else f'{r["mem_ratio"]:.4f}'
        errs = ' '.join(f'{e:.1e}' for e in r['rel_err'] + r['rel_err64'])
        print(f'{r["impl"]:<16}{r["seconds"]:>9.3f}{peak:>10}'
              f'{r["speedup"]:>8.1f}x{ratio:>11}   {errs}')
    _report_targets(rows[1])
    return rows


def _report_targets(ours: dict) -> None:
    print('targets (mmext sorted vs authors dense):')
    print(f'  speed-up {ours["speedup"]:.1f}x (target >= '
          f'{SPEEDUP_TARGET:.0f}x) '
          f'{"ok" if ours["speedup"] >= SPEEDUP_TARGET else "MISSED"}')
    ratio: Optional[float] = ours['mem_ratio']
    if ratio is not None:
        print(f'  peak memory {ratio:.4f} of dense (target <= '
              f'{MEMORY_TARGET}) '
              f'{"ok" if ratio <= MEMORY_TARGET else "MISSED"}')
    worst, worst64 = max(ours['rel_err']), max(ours['rel_err64'])
    print(f'  max relative error {worst64:.1e} vs float64 (target <= '
          f'{REL_TOL:.0e}) {"ok" if worst64 <= REL_TOL else "MISSED"}; '
          f'{worst:.1e} vs the float32 dense computation')
