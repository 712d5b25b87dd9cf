"""Parameterized AP loss against independent references: an AP computed by
walking the ranking (step curves), a per-positive Python loop of the paper's
formula (searched and hand-crafted forms) and a dense autograd re-creation
of the authors' matrices (value and gradients of the sorted computation)."""
import math

import numpy as np
import pytest
import torch

from mmext.models.losses import PAPLoss
from mmext.models.losses.parameterized_ap_loss import (PAP_PRESETS,
                                                       step_ctrl_points)


def random_problem(seed, num=60, num_classes=4, pos_frac=0.3,
                   dtype=torch.float64, ignore_frac=0.0, spread=1.0):
    """Rows of logits, labels (``num_classes`` = background), quality,
    weights."""
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(num, num_classes, generator=gen, dtype=dtype) * \
        spread
    labels = torch.randint(0, num_classes, (num, ), generator=gen)
    is_bg = torch.rand(num, generator=gen) > pos_frac
    labels[is_bg] = num_classes
    labels[0] = 0  # at least one positive
    quality = torch.rand(num, generator=gen, dtype=dtype)
    weight = (torch.rand(num, generator=gen) >= ignore_frac).to(dtype)
    weight[0] = 1
    return logits, labels, quality, weight


def entries(logits, labels, quality, weight):
    """(score, is_positive, quality) of every valid entry, in row order."""
    out = []
    for row in range(logits.shape[0]):
        if weight[row] <= 0:
            continue
        for cls in range(logits.shape[1]):
            pos = bool(labels[row] == cls)
            out.append((float(logits[row, cls]), pos,
                        float(quality[row]) if pos else 0.0))
    return out


def ap_by_walking(items, threshold):
    """Detection-style AP of a ranking with distinct scores: walk down, a
    positive with quality >= threshold is a true positive, anything else a
    false positive; sum the precision at each true positive and divide by
    the number of positive entries."""
    items = sorted(items, key=lambda e: -e[0])
    num_pos = sum(pos for _, pos, _ in items)
    tp, total = 0, 0.0
    for rank, (_, pos, q) in enumerate(items, start=1):
        if pos and q >= threshold:
            tp += 1
            total += tp / rank
    return total / num_pos


@pytest.mark.parametrize('impl', ['sorted', 'dense'])
@pytest.mark.parametrize('seed', range(5))
def test_step_curves_give_one_minus_ap(seed, impl):
    threshold = 0.55
    logits, labels, quality, weight = random_problem(
        seed, num=40 + 20 * seed, ignore_frac=0.1 * (seed % 2), spread=2.0)
    step_h, step_i = step_ctrl_points(0.5), step_ctrl_points(threshold)
    loss = PAPLoss(
        ctrl_points=dict(H1=step_h, H2=step_h, I1=step_i, I2=step_i,
                         I3=step_i),
        num_topk=10**6, impl=impl)
    value = loss(logits, labels, quality, weight).item()
    ap = ap_by_walking(entries(logits, labels, quality, weight), threshold)
    assert 0 < ap < 1
    assert abs(value - (1 - ap)) < 1e-12


def interp(x, pts):
    pts = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
    return float(np.interp(x, pts[:, 0], pts[:, 1]))


def sigmoid(z):
    return 1 / (1 + math.exp(-z))


def clamp01(z):
    return min(max(z, 0.0), 1.0)


FORMS = {
    'sigmoid': (lambda d, name: sigmoid(d),
                lambda u, name: sigmoid(2 * u - 1)),
    'linear': (lambda d, name: clamp01(d / 2 + 0.5), lambda u, name: u),
    'square': (lambda d, name: clamp01(d / 2 + 0.5)**2,
               lambda u, name: u * u),
}


def pap_by_loop(items, rank_fn, quality_fn, num_topk):
    """The paper's formula, one positive and one ranked entry at a time."""
    top = sorted(items, key=lambda e: -e[0])[:num_topk]
    positives = [e for e in items if e[1]]
    total = 0.0
    for s_i, _, u_i in positives:
        numer = sum(rank_fn(s_j - s_i, 'H2') * (1 - quality_fn(u_j, 'I2'))
                    for s_j, _, u_j in top)
        denom = sum(rank_fn(s_j - s_i, 'H1') for s_j, _, _ in top)
        total += (1 - quality_fn(u_i, 'I1')) + \
            quality_fn(u_i, 'I3') * numer / denom
    return total / len(positives)


@pytest.mark.parametrize('form', sorted(FORMS))
@pytest.mark.parametrize('num_topk', [10**6, 37])
def test_hand_crafted_forms(form, num_topk):
    logits, labels, quality, weight = random_problem(1, num=30)
    value = PAPLoss(loss_form=form, num_topk=num_topk)(logits, labels,
                                                       quality, weight)
    expected = pap_by_loop(
        entries(logits, labels, quality, weight), *FORMS[form], num_topk)
    assert abs(value.item() - expected) < 1e-12


@pytest.mark.parametrize('preset', sorted(PAP_PRESETS))
@pytest.mark.parametrize('num_topk', [10**6, 50])
def test_searched_presets_by_loop(preset, num_topk):
    points = PAP_PRESETS[preset]['ctrl_points']
    logits, labels, quality, weight = random_problem(
        2, num=40, ignore_frac=0.2)
    value = PAPLoss(preset=preset, num_topk=num_topk)(logits, labels,
                                                      quality, weight)
    expected = pap_by_loop(
        entries(logits, labels, quality, weight),
        lambda d, name: interp(clamp01(d / 2 + 0.5), points[name]),
        lambda u, name: interp(u, points[name]), num_topk)
    assert abs(value.item() - expected) < 1e-12
    assert PAPLoss(preset=preset).grad_scale == PAP_PRESETS[preset][
        'grad_scale']


def piecewise_dense(x, pts):
    """Curve through ``pts`` as a sum over its segments (autograd)."""
    pts = torch.tensor(pts, dtype=x.dtype).view(-1, 2)
    out = torch.zeros_like(x)
    for (x0, y0), (x1, y1) in zip(pts[:-1], pts[1:]):
        last = bool(x1 == 1)
        inside = (x >= x0) & ((x <= x1) if last else (x < x1))
        out = out + inside * (y0 + (y1 - y0) / (x1 - x0) * (x - x0))
    return out


def dense_recreation(logits, labels, quality, weight, points, num_topk):
    """The authors' computation: one-hot targets, the top-k x positives
    matrices, autograd through everything but the H1 normaliser."""
    num_classes = logits.shape[1]
    targets = torch.zeros_like(logits, dtype=torch.long)
    pos = labels < num_classes
    targets[pos.nonzero()[:, 0], labels[pos]] = 1
    targets[weight == 0] = -1
    ious = (quality[:, None] * (targets == 1)).reshape(-1)
    targets, flat = targets.reshape(-1), logits.reshape(-1)
    s_pos, u_pos = flat[targets == 1], ious[targets == 1]
    all_s, all_u = flat[targets != -1], ious[targets != -1]
    k = min(num_topk, len(all_s))
    top = all_s.topk(k).indices
    s_top, u_top = all_s[top], all_u[top]
    x = ((s_top[:, None] - s_pos[None, :]) / 2 + 0.5).clamp(0, 1)
    h1 = piecewise_dense(x, points['H1']).detach()
    h2 = piecewise_dense(x, points['H2'])
    i2 = piecewise_dense(u_top, points['I2'])[:, None]
    i3 = piecewise_dense(u_pos, points['I3'])[None, :]
    i1 = piecewise_dense(u_pos, points['I1'])
    return ((1 - i1) + (h2 * (1 - i2) * i3).sum(0) / h1.sum(0)).sum() / \
        len(s_pos)


def rel(a, b):
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize('dtype,tol', [(torch.float64, 1e-10),
                                       (torch.float32, 1e-6)])
@pytest.mark.parametrize('preset', sorted(PAP_PRESETS))
def test_sorted_matches_dense_recreation(preset, dtype, tol):
    """The re-creation always runs in float64 on the same inputs: in
    float32 its own rounding of ``x_ij`` is amplified by the steep pieces of
    the curves (slope 464 in the RPN's H2) to ~1e-5."""
    points = PAP_PRESETS[preset]['ctrl_points']
    logits, labels, quality, weight = random_problem(
        3, num=3000, num_classes=8, pos_frac=0.05, dtype=dtype,
        ignore_frac=0.1)
    results = []
    for fn, cast in ((lambda *a: dense_recreation(*a, points, 2000),
                      torch.float64),
                     (PAPLoss(preset=preset, num_topk=2000, impl='sorted'),
                      dtype)):
        s = logits.to(cast).requires_grad_()
        q = quality.to(cast).requires_grad_()
        value = fn(s, labels, q, weight.to(cast))
        assert value.dtype == cast
        value.backward()
        results.append((value.detach(), s.grad, q.grad))
    (v_ref, gs_ref, gq_ref), (v, gs, gq) = results
    assert abs(v.item() - v_ref.item()) <= tol * abs(v_ref.item())
    assert rel(gs.double(), gs_ref) <= tol
    assert rel(gq.double(), gq_ref) <= tol
    assert gs.abs().sum() > 0 and gq.abs().sum() > 0


def test_gradients_reach_logits_and_boxes():
    """Through GIoU quality into box coordinates, and into logits of both
    positives and negatives."""
    from mmext.models.losses.parameterized_ap_loss import \
        localization_quality
    logits, labels, _, _ = random_problem(4, num=50, dtype=torch.float32)
    gen = torch.Generator().manual_seed(0)
    target = torch.rand(50, 2, generator=gen) * 50
    target = torch.cat([target, target + 10 + 20 * torch.rand(50, 2)], 1)
    pred = (target + torch.randn(50, 4, generator=gen) * 3)
    pred.requires_grad_()
    logits.requires_grad_()
    quality = localization_quality(pred, target, 'giou')
    PAPLoss(preset='retinanet')(logits, labels, quality).backward()
    pos = labels < logits.shape[1]
    assert torch.isfinite(pred.grad).all()
    assert torch.isfinite(logits.grad).all()
    assert (pred.grad[pos].abs().sum(1) > 0).all()
    assert (pred.grad[~pos] == 0).all()
    assert logits.grad[pos].abs().sum() > 0
    assert logits.grad[~pos].abs().sum() > 0


def test_localization_quality_forms():
    from mmext.models.losses.parameterized_ap_loss import \
        localization_quality
    pred = torch.tensor([[0., 0., 2., 2.], [0., 0., 1., 1.]])
    target = torch.tensor([[1., 1., 3., 3.], [2., 0., 3., 1.]])
    # IoU 1/7 and 0; enclosing boxes 9 and 3 with unions 7 and 2
    iou = torch.tensor([1 / 7, 0.])
    giou = iou - torch.tensor([(9 - 7) / 9, (3 - 2) / 3])
    torch.testing.assert_close(localization_quality(pred, target, 'iou'), iou)
    torch.testing.assert_close(
        localization_quality(pred, target, 'giou'), (giou + 1) / 2)
    priors = torch.tensor([[0., 0., 4., 4.], [0., 0., 10., 10.]])
    # corner offsets in units of the prior's size: 4 x 0.25 and 0.2 + 0.2
    torch.testing.assert_close(
        localization_quality(pred, target, 'l1', priors),
        torch.tensor([0., 0.6]))


@pytest.mark.parametrize('points,key,message', [
    (dict(H2=[0, 0, .6, .5, .4, .7, 1, 1]), "'H2'", 'monotone'),
    (dict(I1=[0, 0, .5, .9, .6, .8, 1, 1]), "'I1'", 'monotone'),
    (dict(I3=[0, 0, .5, 1.2, 1, 1]), "'I3'", 'inside'),
    (dict(H1=[0, 0, .5, .5, 1, .9]), "'H1'", 'end at'),
    (dict(I2=[0, 0, .5]), "'I2'", 'points'),
    (dict(H1=[0, 0, .6, 0, 1, 1]), "'H1'", 'positive at'),
])
def test_bad_ctrl_points(points, key, message):
    ctrl = dict(PAP_PRESETS['retinanet']['ctrl_points'], **points)
    with pytest.raises(ValueError, match=message) as err:
        PAPLoss(ctrl_points=ctrl)
    assert key in str(err.value)


def test_bad_inputs():
    logits, labels, quality, _ = random_problem(5, num=20)
    loss = PAPLoss(preset='rcnn')
    with pytest.raises(ValueError, match='labels hold no positive'):
        loss(logits, torch.full_like(labels, 4), quality)
    bad = logits.clone()
    bad[3, 1] = float('nan')
    with pytest.raises(ValueError, match='logits contain NaN'):
        loss(bad, labels, quality)
    with pytest.raises(ValueError, match='quality must have shape'):
        loss(logits, labels, quality[:5])
    with pytest.raises(ValueError, match="preset='detr'"):
        PAPLoss(preset='detr')
    with pytest.raises(ValueError, match='ctrl_points must have the keys'):
        PAPLoss(ctrl_points=dict(H1=[0, 0, 1, 1]))
    with pytest.raises(ValueError, match="impl='sorted' needs"):
        PAPLoss(loss_form='sigmoid', impl='sorted')


def _all_gather_worker(rank, world_size, port, queue):
    import torch.distributed as dist
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=rank, world_size=world_size)
    try:
        logits, labels, quality, weight = random_problem(
            6, num=90, ignore_frac=0.1)
        rows = slice(rank * 30, (rank + 1) * 30)  # uneven positives/ranks
        s = logits[rows].clone().requires_grad_()
        q = quality[rows].clone().requires_grad_()
        loss = PAPLoss(preset='retinanet', num_topk=100, all_gather=True)(
            s, labels[rows], q, weight[rows])
        loss.backward()
        queue.put((rank, loss.item(), s.grad, q.grad))
    finally:
        dist.destroy_process_group()


def test_all_gather_ranks_all_processes_entries():
    """Three processes hold a third of the rows each: every one returns the
    loss of the whole ranking, and its gradients, averaged as DDP does,
    equal the single-process gradients (top-k 100 of 360 entries)."""
    import socket

    import torch.multiprocessing as mp
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    ctx = mp.get_context('spawn')
    queue = ctx.Queue()
    procs = [ctx.Process(target=_all_gather_worker,
                         args=(r, 3, port, queue)) for r in range(3)]
    for p in procs:
        p.start()
    results = sorted(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    logits, labels, quality, weight = random_problem(6, num=90,
                                                     ignore_frac=0.1)
    s = logits.clone().requires_grad_()
    q = quality.clone().requires_grad_()
    loss = PAPLoss(preset='retinanet', num_topk=100)(s, labels, q, weight)
    loss.backward()
    for _, value, _, _ in results:
        assert abs(value - loss.item()) < 1e-12
    grad_s = torch.cat([r[2] for r in results]) / 3  # DDP's average
    grad_q = torch.cat([r[3] for r in results]) / 3
    torch.testing.assert_close(grad_s, s.grad, rtol=1e-10, atol=1e-14)
    torch.testing.assert_close(grad_q, q.grad, rtol=1e-10, atol=1e-14)
