"""Parameterized AP loss.

`Searching Parameterized AP Loss for Object Detection
<https://arxiv.org/abs/2112.05138>`_ (Tao et al., NeurIPS 2021); authors'
code: fundamentalvision/Parameterized-AP-Loss
(``mmdet/models/losses/paploss.py``, commit 0f36f02).

For positive entries ``i`` (an anchor or RoI and its ground-truth class), the
top-``k`` ranked valid entries ``j`` and the localisation quality ``u``
(``(GIoU + 1) / 2`` of a positive's box, 0 for negatives)::

    L = 1/|P| sum_i [ (1 - I1(u_i))
                      + I3(u_i) sum_j H2(x_ij) (1 - I2(u_j)) / sum_j H1(x_ij) ]

with ``x_ij = clamp((s_j - s_i) / 2 + 0.5, 0, 1)`` from the logits ``s`` and
the normaliser ``sum_j H1`` detached. With step functions ``H = 1[x >= 0.5]``
and ``I = 1[u >= t]`` this is exactly ``1 - AP_t`` of the pooled ranking
(normalised by the number of positive entries). The paper searches the five
functions as piecewise-linear curves; :data:`PAP_PRESETS` holds the authors'
searched curves.

``impl='sorted'`` evaluates the sums without the ``k x |P|`` matrices of the
authors' code: the entries are sorted once, and on each linear piece of a
curve ``sum_j H(s_j - s_i) w_j`` is an affine function of the prefix sums of
``w`` and ``w s`` over the index range that piece covers, found by binary
search; the backward pass does the same over the sorted positives.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
from mmdet.structures.bbox import bbox_overlaps
from mmengine.dist import all_gather, get_rank, get_world_size
from mmengine.model import BaseModule
from torch import Tensor
from torch.autograd import Function

from mmext.registry import MODELS
from mmext.utils.validation import check_arg

CURVE_NAMES = ('H1', 'H2', 'I1', 'I2', 'I3')
LOSS_FORMS = ('searched', 'linear', 'sigmoid', 'square')
QUALITY_MODES = ('giou', 'iou', 'l1')

#: The authors' searched control points (6 points, ``x0, y0, ..., x5, y5``)
#: and the gradient scale of the regression branch (the heads apply it),
#: from ``configs/paploss/paploss_{retinanet,fasterrcnn}_r50_fpn.py``.
PAP_PRESETS: Dict[str, dict] = {
    'retinanet': dict(
        grad_scale=4.1231,
        ctrl_points=dict(
            H2=[0, 0, .4182, .0277, .4948, .2187, .6882, .2624, .802, .6688,
                1, 1],
            I2=[0, 0, .1279, .3696, .3056, .4708, .5198, .529, .6983, .6709,
                1, 1],
            I3=[0, 0, .0931, .0289, .3607, .5585, .4823, .7131, .6291, .8162,
                1, 1],
            I1=[0, 0, .4914, .1499, .5492, .1664, .6259, .3051, .7945, .6195,
                1, 1],
            H1=[0, 0, .413, .0798, .4356, .3571, .5361, .7063, .8097, .9083,
                1, 1])),
    'rpn': dict(
        grad_scale=1.6950,
        ctrl_points=dict(
            H2=[0, 0, .9058, .0484, .9068, .5120, .9232, .7286, .9766, .9677,
                1, 1],
            I2=[0, 0, .3200, .1084, .3493, .2482, .4924, .3869, .7231, .6510,
                1, 1],
            I3=[0, 0, .0935, .0419, .2177, .1168, .5857, .3748, .7962, .6683,
                1, 1],
            I1=[0, 0, .0045, .3599, .1295, .4603, .7662, .5140, .8483, .5259,
                1, 1],
            H1=[0, 0, .1764, .1081, .5245, .4907, .6956, .5668, .7642, .8645,
                1, 1])),
    'rcnn': dict(
        grad_scale=7.1324,
        ctrl_points=dict(
            H2=[0, 0, .3344, .0268, .5460, .2461, .8196, .6466, .9467, .8617,
                1, 1],
            I2=[0, 0, .0978, .2019, .4073, .3367, .6337, .4689, .7708, .6633,
                1, 1],
            I3=[0, 0, .2406, .0515, .3358, .5259, .6047, .6647, .8575, .7792,
                1, 1],
            I1=[0, 0, .2574, .2363, .5442, .5999, .7165, .6548, .8728, .8331,
                1, 1],
            H1=[0, 0, .1551, .2675, .4902, .3957, .7245, .5095, .8068, .8720,
                1, 1])),
}


def localization_quality(pred: Tensor,
                         target: Tensor,
                         mode: str = 'giou',
                         priors: Optional[Tensor] = None) -> Tensor:
    """Quality ``u`` in ``[0, 1]`` of predicted boxes, the ``reg_input`` of
    the authors' heads.

    Args:
        pred (Tensor): ``(M, 4)`` predicted boxes ``(x1, y1, x2, y2)``.
        target (Tensor): ``(M, 4)`` their ground-truth boxes.
        mode (str): ``'giou'`` (``(GIoU + 1) / 2``, the paper's), ``'iou'``
            or ``'l1'`` (``1 - |pred - target|_1`` with coordinates in units
            of the prior's width and height, clamped to ``[0, 1]``).
        priors (Tensor, optional): ``(M, 4)`` anchors or RoIs, for ``'l1'``.

    Returns:
        Tensor: ``(M, )``.
    """
    if mode == 'giou':
        return (bbox_overlaps(pred, target, mode='giou', is_aligned=True) +
                1) / 2
    if mode == 'iou':
        return bbox_overlaps(pred, target, mode='iou', is_aligned=True)
    if mode == 'l1':
        if priors is None:
            raise ValueError("localization_quality: mode 'l1' needs priors")
        size = (priors[:, 2:] - priors[:, :2]).repeat(1, 2)
        return (1 - ((pred - target).abs() / size).sum(1)).clamp(0, 1)
    raise ValueError(f'reg_input must be one of {QUALITY_MODES}, got '
                     f'{mode!r}')


def step_ctrl_points(threshold: float) -> list:
    """Control points of the step ``1[x >= threshold]`` (a vertical jump).

    With ``H1 = H2 = step_ctrl_points(0.5)`` and ``I1 = I2 = I3 =
    step_ctrl_points(t)`` the loss equals ``1 - AP_t``.
    """
    return [0., 0., threshold, 0., threshold, 1., 1., 1.]


def check_ctrl_points(name: str, points: Union[Sequence, Tensor]) -> Tensor:
    """Validate one curve and return it as a ``(n, 2)`` float64 tensor.

    A curve is ``n >= 2`` points ``(x, y)`` given flat (``x0, y0, x1, ...``)
    or as pairs, from ``(0, 0)`` to ``(1, 1)``, inside ``[0, 1]``, with ``x``
    and ``y`` non-decreasing. Equal consecutive ``x`` make a vertical jump;
    the curve is right-continuous there.
    """
    key = f'ctrl_points[{name!r}]'
    try:
        pts = torch.as_tensor(points, dtype=torch.float64).reshape(-1)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f'{key} must be numbers, got {points!r}') from err
    if pts.numel() < 4 or pts.numel() % 2:
        raise ValueError(f'{key} must hold n >= 2 (x, y) points, got '
                         f'{pts.numel()} numbers')
    pts = pts.view(-1, 2)
    if not torch.isfinite(pts).all() or (pts < 0).any() or (pts > 1).any():
        raise ValueError(f'{key} must lie inside [0, 1], got '
                         f'{pts.tolist()}')
    if pts[0].tolist() != [0., 0.] or pts[-1].tolist() != [1., 1.]:
        raise ValueError(f'{key} must start at (0, 0) and end at (1, 1), '
                         f'got {pts[0].tolist()} ... {pts[-1].tolist()}')
    for axis, coord in ((0, 'x'), (1, 'y')):
        if (pts[1:, axis] < pts[:-1, axis]).any():
            raise ValueError(f'{key} must be monotone: its {coord} '
                             f'coordinates decrease in {pts.tolist()}')
    return pts


def piecewise_linear(x: Tensor, points: Tensor) -> Tensor:
    """Evaluate the curve through ``points`` (``(n, 2)``) at ``x`` in
    ``[0, 1]`` (any shape), right-continuous at vertical jumps."""
    xs, ys = points[:, 0].to(x), points[:, 1].to(x)
    width = xs[1:] - xs[:-1]
    slope = torch.where(width > 0, (ys[1:] - ys[:-1]) / width.clamp_min(1e-30),
                        torch.zeros_like(width))
    slope = torch.cat([slope, slope.new_zeros(1)])  # flat at x >= 1
    seg = torch.searchsorted(xs[1:].contiguous(), x.detach().contiguous(),
                             right=True)
    return ys[seg] + slope[seg] * (x - xs[seg])


def rank_regions(points: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """Pieces of ``H(d) = f(clamp(d / 2 + 0.5, 0, 1))`` over the logit gap
    ``d``: piece ``r`` covers ``[lo[r], lo[r + 1])`` (``lo[0] = -inf``, the
    last piece is open above) and there ``H(d) = alpha[r] + beta[r] d``.

    Returns ``lo, alpha, beta``, each of shape ``(n + 1, )``.
    """
    xs, ys = points[:, 0], points[:, 1]
    width = xs[1:] - xs[:-1]
    slope = torch.where(width > 0, (ys[1:] - ys[:-1]) / width.clamp_min(1e-30),
                        torch.zeros_like(width))
    slope = torch.cat([slope, slope.new_zeros(1)])
    beta = slope / 2  # dx/dd = 1/2
    alpha = ys + slope * (0.5 - xs)
    f0 = piecewise_linear(xs.new_zeros(1), points)
    lo = torch.cat([xs.new_full((1, ), -float('inf')), 2 * xs - 1])
    return lo, torch.cat([f0, alpha]), torch.cat([beta.new_zeros(1), beta])


def _prefix(*vals: Tensor) -> Tuple[Tensor, ...]:
    """Exclusive-inclusive prefix sums ``[0, v0, v0 + v1, ...]``."""
    return tuple(torch.cat([v.new_zeros(1), v.cumsum(0)]) for v in vals)


def topk_valid_entries(scores: Tensor, valid: Optional[Tensor],
                       k: int) -> Tensor:
    """Flat indices of the ``k`` largest entries of ``scores`` (``(N, C)``)
    in rows where ``valid`` (``(N, )``, None: all), in no particular order.

    A threshold from a strided subsample first selects a candidate set that
    contains the top ``k`` whenever it holds at least ``k`` valid entries
    (then the result is exact); otherwise one full ``topk`` runs. At
    RetinaNet-512 scale this is ~10x faster than ``topk`` over 21 M
    entries.
    """
    num_classes = scores.shape[1]
    flat = scores.reshape(-1)
    total = flat.numel() if valid is None else int(valid.sum()) * num_classes
    k = min(k, total)
    stride = 61  # prime: no aliasing with the class columns
    if flat.numel() >= 4 * k and k >= 4 * stride:
        sample = flat[::stride]
        margin = max(k // stride // 2, 1)  # take ~1.5 k candidates
        thr = sample.topk(k // stride + margin).values[-1]
        cand = (flat >= thr).nonzero()[:, 0]
        if valid is not None:
            cand = cand[valid[cand // num_classes]]
        if cand.numel() >= k:
            return cand[flat[cand].topk(k, sorted=False).indices]
    if valid is not None:
        scores = scores.masked_fill(~valid[:, None], -float('inf'))
    return scores.reshape(-1).topk(k, sorted=False).indices


def _gather_with_grad(local: Tensor) -> Tensor:
    """Concatenate ``local`` (``(n_r, ...)``, ``n_r`` may differ) over all
    processes in rank order; only this process's part keeps its graph."""
    size = torch.tensor([local.shape[0]], device=local.device)
    sizes = [int(n) for n in all_gather(size)]
    padded = local.detach().new_zeros((max(sizes), ) + local.shape[1:])
    padded[:local.shape[0]] = local.detach()
    parts = [t[:n] for t, n in zip(all_gather(padded), sizes)]
    parts[get_rank()] = local
    return torch.cat(parts)


class _SortedRankingRatio(Function):
    """``R_i = sum_j H2(s_j - s_i) v_j / sum_j H1(s_j - s_i)`` (the
    denominator detached) for piecewise-linear ``H1``, ``H2``, in
    ``O((K + P) log(K + P))`` time and ``O(K + P)`` memory.

    Inputs: ``s_pos (P, )``, ``s_top (K, )``, ``v_top (K, )`` (float64),
    the pieces :func:`rank_regions` of ``H1`` and ``H2``. Output ``(P, )``.
    """

    @staticmethod
    def forward(ctx, s_pos: Tensor, s_top: Tensor, v_top: Tensor,
                regions1: Tuple[Tensor, Tensor, Tensor],
                regions2: Tuple[Tensor, Tensor, Tensor]) -> Tensor:
        num_top = s_top.numel()
        s_sorted, order = s_top.sort()
        v_sorted = v_top[order]

        def piece_sums(lo: Tensor, cum: Tuple[Tensor, ...]) -> Tuple:
            # entries with s_j - s_i in [lo_r, lo_r+1): a slice of s_sorted
            inner = torch.searchsorted(
                s_sorted, s_pos[:, None] + lo[None, 1:], right=False)
            idx = torch.cat([
                inner.new_zeros(len(s_pos), 1), inner,
                inner.new_full((len(s_pos), 1), num_top)
            ], 1)
            return tuple(c[idx].diff(dim=1) for c in cum)

        lo1, a1, b1 = regions1
        cnt, sum_s = piece_sums(lo1, _prefix(torch.ones_like(s_sorted),
                                             s_sorted))
        denom = ((a1 - b1 * s_pos[:, None]) * cnt + b1 * sum_s).sum(1)
        lo2, a2, b2 = regions2
        w, ws = piece_sums(lo2, _prefix(v_sorted, v_sorted * s_sorted))
        numer = ((a2 - b2 * s_pos[:, None]) * w + b2 * ws).sum(1)
        d_numer_d_pos = -(b2 * w).sum(1)
        ctx.save_for_backward(s_pos, s_sorted, order, v_sorted, denom,
                              d_numer_d_pos, lo2, a2, b2)
        return numer / denom

    @staticmethod
    def backward(ctx, grad: Tensor):
        (s_pos, s_sorted, order, v_sorted, denom, d_numer_d_pos, lo, alpha,
         beta) = ctx.saved_tensors
        g = grad / denom
        grad_pos = g * d_numer_d_pos if ctx.needs_input_grad[0] else None
        grad_top = grad_v = None
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            # positives i with s_j - s_i in [lo_r, lo_r+1), i.e.
            # s_i in (s_j - lo_r+1, s_j - lo_r]: a slice of the sorted s_pos
            sp, perm = s_pos.sort()
            gp = g[perm]
            cum_g, cum_gs = _prefix(gp, gp * sp)
            inner = torch.searchsorted(
                sp, s_sorted[:, None] - lo[None, 1:], right=True)
            idx = torch.cat([
                inner.new_full((len(s_sorted), 1), len(sp)), inner,
                inner.new_zeros(len(s_sorted), 1)
            ], 1)
            sum_g = cum_g[idx[:, :-1]] - cum_g[idx[:, 1:]]
            if ctx.needs_input_grad[1]:
                grad_top = torch.empty_like(s_sorted)
                grad_top[order] = v_sorted * (beta * sum_g).sum(1)
            if ctx.needs_input_grad[2]:
                sum_gs = cum_gs[idx[:, :-1]] - cum_gs[idx[:, 1:]]
                grad_v = torch.empty_like(s_sorted)
                grad_v[order] = ((alpha + beta * s_sorted[:, None]) * sum_g -
                                 beta * sum_gs).sum(1)
        return grad_pos, grad_top, grad_v, None, None


@MODELS.register_module()
class PAPLoss(BaseModule):
    """Parameterized AP loss on one ranking of logits.

    All entries (anchor or RoI x class) of the batch form one ranking, as in
    the authors' code (the heads can all-gather several processes' entries).
    There is no separate regression loss: boxes are trained through the
    quality ``u`` in ``I1``, ``I2``, ``I3``.

    Args:
        preset (str, optional): One of :data:`PAP_PRESETS` (``'retinanet'``,
            ``'rpn'``, ``'rcnn'``): the authors' searched curves and gradient
            scale. Excludes ``ctrl_points``.
        ctrl_points (dict, optional): ``{'H1': [...], 'H2': ..., 'I1': ...,
            'I2': ..., 'I3': ...}``, each a curve as in
            :func:`check_ctrl_points` (the paper: 6 points, end points fixed)
            for ``loss_form='searched'``.
        grad_scale (float, optional): Scale of the regression gradient that
            the heads apply (:func:`mmext.models.utils.grad_scale`); default
            the preset's, else 1.
        loss_form (str): ``'searched'`` (the curves), or the paper's
            hand-crafted forms ``'linear'`` (``H = x``, ``I = u``),
            ``'sigmoid'`` (``H = sigmoid(s_j - s_i)``, ``I = sigmoid(2u -
            1)``), ``'square'`` (``H = x^2``, ``I = u^2``).
        num_topk (int): Entries ``j`` ranked against the positives: the
            ``num_topk`` highest-scoring valid ones (authors: 1e5).
        impl (str): ``'sorted'`` (prefix sums, piecewise-linear forms only),
            ``'dense'`` (the ``num_topk x |P|`` matrices of the authors'
            code), or ``'auto'``: sorted where possible.
        all_gather (bool): Rank the entries of all processes together (the
            authors rank per process). Each process sends its positives and
            its own top ``num_topk`` entries, which contain the global top
            ``num_topk``; every process computes the global loss, and the
            gradient is multiplied by the world size so that DDP's averaging
            yields the gradient of the global loss.
        loss_weight (float): Multiplies the loss.
        use_sigmoid (bool): Must be True: the logits are independent
            sigmoid scores (no background class). mmdet's heads read it to
            size their classifiers.
        init_cfg (dict, optional): Initialisation config (no weights).
    """

    def __init__(self,
                 preset: Optional[str] = None,
                 ctrl_points: Optional[Dict[str, Sequence[float]]] = None,
                 grad_scale: Optional[float] = None,
                 loss_form: str = 'searched',
                 num_topk: int = 100000,
                 impl: str = 'auto',
                 all_gather: bool = False,
                 loss_weight: float = 1.0,
                 use_sigmoid: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not use_sigmoid:
            raise ValueError('PAPLoss ranks sigmoid logits without a '
                             'background class: use_sigmoid must be True')
        check_arg(self, 'loss_form', loss_form, choices=LOSS_FORMS)
        check_arg(self, 'impl', impl, choices=('auto', 'sorted', 'dense'))
        check_arg(self, 'preset', preset, choices=PAP_PRESETS,
                  allow_none=True)
        check_arg(self, 'grad_scale', grad_scale, float, allow_none=True)
        check_arg(self, 'num_topk', num_topk, int, low=1)
        check_arg(self, 'loss_weight', loss_weight, float)
        if preset is not None:
            if ctrl_points is not None:
                raise ValueError('give either preset or ctrl_points, not both')
            ctrl_points = PAP_PRESETS[preset]['ctrl_points']
            if grad_scale is None:
                grad_scale = PAP_PRESETS[preset]['grad_scale']
        if loss_form == 'searched':
            if ctrl_points is None:
                raise ValueError("loss_form='searched' needs preset or "
                                 'ctrl_points')
            if set(ctrl_points) != set(CURVE_NAMES):
                raise ValueError(f'ctrl_points must have the keys '
                                 f'{CURVE_NAMES}, got {sorted(ctrl_points)}')
            curves = {k: check_ctrl_points(k, v)
                      for k, v in ctrl_points.items()}
        elif ctrl_points is not None:
            raise ValueError(f'ctrl_points are only used with '
                             f"loss_form='searched', not {loss_form!r}")
        elif loss_form == 'linear':
            curves = {k: check_ctrl_points(k, [0, 0, 1, 1])
                      for k in CURVE_NAMES}
        else:
            curves = {}
        if curves and piecewise_linear(
                torch.tensor([0.5], dtype=torch.float64),
                curves['H1']).item() <= 0:
            raise ValueError("ctrl_points['H1'] must be positive at x = 0.5 "
                             '(equal logits), or the normaliser can vanish')
        if impl == 'sorted' and not curves:
            raise ValueError(f"impl='sorted' needs a piecewise-linear "
                             f"loss_form, not {loss_form!r}")
        self.loss_form = loss_form
        self.num_topk = num_topk
        self.impl = 'sorted' if impl == 'auto' and curves else \
            ('dense' if impl == 'auto' else impl)
        self.all_gather = all_gather
        self.loss_weight = loss_weight
        self.grad_scale = 1.0 if grad_scale is None else float(grad_scale)
        for name, pts in curves.items():
            self.register_buffer(f'points_{name}', pts, persistent=False)

    # ------------------------------------------------------------ curves
    def quality_fn(self, name: str, u: Tensor) -> Tensor:
        """``I1``, ``I2`` or ``I3`` at the quality ``u``."""
        if self.loss_form == 'sigmoid':
            return torch.sigmoid(2 * u - 1)
        if self.loss_form == 'square':
            return u * u
        return piecewise_linear(u, getattr(self, f'points_{name}'))

    def rank_fn(self, name: str, diff: Tensor) -> Tensor:
        """``H1`` or ``H2`` at the logit gap ``diff = s_j - s_i``."""
        if self.loss_form == 'sigmoid':
            return torch.sigmoid(diff)
        x = (diff / 2 + 0.5).clamp(0, 1)
        if self.loss_form == 'square':
            return x * x
        return piecewise_linear(x, getattr(self, f'points_{name}'))

    def ranking_ratio(self, s_pos: Tensor, s_top: Tensor,
                      v_top: Tensor) -> Tensor:
        """``sum_j H2 v_j / sum_j H1`` (detached denominator) for each
        positive: ``s_pos (P, )``, ``s_top, v_top (K, )`` -> ``(P, )``."""
        if self.impl == 'dense':
            diff = s_top[:, None] - s_pos[None, :]
            h1 = self.rank_fn('H1', diff.detach())
            h2 = self.rank_fn('H2', diff)
            return (h2 * v_top[:, None]).sum(0) / h1.sum(0)
        dtype = s_pos.dtype
        regions = [
            tuple(rank_regions(getattr(self, f'points_{n}').double()))
            for n in ('H1', 'H2')
        ]
        return _SortedRankingRatio.apply(s_pos.double(), s_top.double(),
                                         v_top.double(), *regions).to(dtype)

    # ----------------------------------------------------------- forward
    def forward(self,
                logits: Tensor,
                labels: Tensor,
                quality: Tensor,
                weight: Optional[Tensor] = None) -> Tensor:
        """Loss of one ranking.

        Args:
            logits (Tensor): ``(N, C)`` class logits (``(N, )`` for one
                class); every entry is ranked.
            labels (Tensor): ``(N, )`` class of each row in ``[0, C]``;
                ``C`` is background (mmdet's convention).
            quality (Tensor): ``(N, )`` localisation quality in ``[0, 1]`` of
                each row's box; read at positive rows only.
            weight (Tensor, optional): ``(N, )``; rows with weight 0 are
                ignored (neither positive nor negative).

        Returns:
            Tensor: the scalar loss.
        """
        if logits.dim() == 1:
            logits = logits[:, None]
        num, num_classes = logits.shape
        for key, tensor in (('labels', labels), ('quality', quality),
                            ('weight', weight)):
            if tensor is not None and tensor.shape != (num, ):
                raise ValueError(f'PAPLoss: {key} must have shape ({num},) '
                                 f'to match logits {tuple(logits.shape)}, '
                                 f'got {tuple(tensor.shape)}')
        # one reduction instead of isnan(...).any() over all entries
        if not torch.isfinite(logits.detach().sum()) and \
                torch.isnan(logits.detach()).any():
            raise ValueError('PAPLoss: logits contain NaN')
        valid = None if weight is None else weight > 0
        pos_mask = (labels >= 0) & (labels < num_classes)
        if valid is not None:
            pos_mask &= valid
        pos_rows = pos_mask.nonzero()[:, 0]
        u_pos = quality[pos_rows]
        if torch.isnan(u_pos.detach()).any():
            raise ValueError('PAPLoss: quality of a positive is NaN')

        top = topk_valid_entries(logits.detach(), valid, self.num_topk)
        rows, cols = top // num_classes, top % num_classes
        u_top = torch.where(labels[rows] == cols, quality[rows],
                            quality.new_zeros(()))
        # one gather, so the backward scatters into one (N, C) gradient
        picked = logits.reshape(-1)[torch.cat(
            [pos_rows * num_classes + labels[pos_rows], top])]
        s_pos, s_top = picked[:pos_rows.numel()], picked[pos_rows.numel():]

        world_size = get_world_size() if self.all_gather else 1
        if world_size > 1:
            s_pos, u_pos = _gather_with_grad(torch.stack([s_pos, u_pos],
                                                         1)).unbind(1)
            s_top, u_top = _gather_with_grad(torch.stack([s_top, u_top],
                                                         1)).unbind(1)
            k = min(self.num_topk, s_top.numel())
            top = s_top.detach().topk(k, sorted=False).indices
            s_top, u_top = s_top[top], u_top[top]
        if s_pos.numel() == 0:
            raise ValueError('PAPLoss: labels hold no positive entry (a '
                             'ranking needs one); filter images without '
                             'objects or skip the loss')

        ratio = self.ranking_ratio(s_pos, s_top,
                                   1 - self.quality_fn('I2', u_top))
        per_pos = (1 - self.quality_fn('I1', u_pos)) + \
            self.quality_fn('I3', u_pos) * ratio
        loss = self.loss_weight * per_pos.sum() / per_pos.numel()
        if world_size > 1:  # value of the global loss, W x its gradient
            loss = world_size * loss - (world_size - 1) * loss.detach()
        return loss

    def loss_by_boxes(self, logits: Tensor, labels: Tensor, weight: Tensor,
                      pos_rows: Tensor, pos_pred: Tensor, pos_target: Tensor,
                      pos_priors: Tensor, reg_input: str) -> Tensor:
        """The loss of a head, quality from the positives' boxes.

        Args:
            logits (Tensor): ``(N, C)``; labels, weight (Tensor): ``(N, )``.
            pos_rows (Tensor): ``(P, )`` indices of the positive rows.
            pos_pred, pos_target, pos_priors (Tensor): ``(P, 4)`` decoded
                predicted boxes, their ground truth and priors (anchors or
                RoIs) of those rows.
            reg_input (str): See :func:`localization_quality`.

        Returns:
            Tensor: the loss; with no positive row (and no all-gather) a
            zero that keeps ``logits`` and ``pos_pred`` in the graph.
        """
        if pos_rows.numel() == 0 and not self.all_gather:
            return (logits.sum() + pos_pred.sum()) * 0
        pos_quality = localization_quality(pos_pred.float(),
                                           pos_target.float(), reg_input,
                                           pos_priors.float())
        quality = pos_quality.new_zeros(logits.shape[0]).index_put(
            (pos_rows, ), pos_quality)
        return self(logits.float(), labels, quality, weight)

    def get_cls_channels(self, num_classes: int) -> int:
        """Classifier outputs of a box head: one logit per class."""
        return num_classes

    def get_activation(self, cls_score: Tensor) -> Tensor:
        """``(n, C)`` logits -> ``(n, C + 1)`` sigmoid scores and a zero
        background column, the layout mmdet's box heads post-process."""
        return torch.cat(
            [cls_score.sigmoid(),
             cls_score.new_zeros(cls_score.shape[0], 1)], 1)
