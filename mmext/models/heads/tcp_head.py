"""TCP: temporal-attentive covariance pooling head for 2D video recognizers.

`Temporal-attentive Covariance Pooling Networks for Video Recognition
<https://arxiv.org/abs/2110.14381>`_ (Gao et al., NeurIPS 2021); authors'
code: ZilinGao/Temporal-attentive-Covariance-Pooling-Networks-for-Video-
Recognition at commit abcef01 (``ops/TCP/*.py``, ``ops/models.py``).

The head takes the per-frame maps of a TSN/TSM-style ``Recognizer2D``
(``(N * T, 2048, H, W)``, the backbone's last stage at stride 1), reduces
them ``2048 -> 256 -> 128`` (1x1 conv + BN + ReLU each), calibrates them with
the temporal attention (:class:`TemporalAttention`: TSA from frames ``t - 1``
and ``t - 2``, TCA from temporal differences, a circular temporal conv, all
switched off at initialisation), pools one covariance over all ``T H W``
positions of a video, takes its square root by 3 Newton-Schulz iterations
(:func:`mmext.ops.isqrt_cov`, shared with iSQRT-COV) and classifies the
8,256-d upper triangle.
"""
import re
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmaction.models.heads.base import BaseHead
from mmcv.cnn import ConvModule, build_norm_layer
from mmengine.model.weight_init import constant_init, kaiming_init, normal_init
from torch import Tensor

from mmext.models.utils.mpncov import mpncov_isqrt
from mmext.ops.tensor_check import check_finite
from mmext.registry import MODELS
from mmext.utils.validation import check_arg

def shift_frames(x: Tensor, shift: int, mode: str) -> Tensor:
    """Frame ``t`` of the result is frame ``t - shift`` of ``x``.

    Args:
        x (Tensor): ``(V, T, ...)``, videos first, frames second.
        shift (int): Frames to look back, ``>= 0``.
        mode (str): What frames ``t < shift`` see: ``'replicate'`` (frame 0,
            the authors' TSA) or ``'circular'`` (frame ``T + t - shift``,
            the authors' TCA).

    Returns:
        Tensor: The same shape as ``x``.
    """
    if mode == 'circular':
        return torch.roll(x, shifts=shift, dims=1)
    index = (torch.arange(x.size(1), device=x.device) - shift).clamp_min(0)
    return x.index_select(1, index)


def video_isqrt_cov(x: Tensor, num_segments: int, num_iter: int = 3) -> Tensor:
    """Video-level iSQRT-COV: one covariance over all ``T H W`` positions.

    TCP Eq. (7)-(8) with the authors' ``TCP_level='video'``: the centred
    covariance of the ``M = T H W`` positions of a video, its square root by
    ``num_iter`` coupled Newton-Schulz iterations (trace pre-normalization,
    post-compensation) and the row-major upper triangle, computed as the
    authors' ``MPNCOV.py`` (:func:`mmext.models.utils.mpncov.mpncov_isqrt`).

    Args:
        x (Tensor): Frame maps ``(N * T, C, H, W)``, the ``T`` frames of a
            video consecutive.
        num_segments (int): Frames per video ``T``.
        num_iter (int): Newton-Schulz iterations. Defaults to 3.

    Returns:
        Tensor: ``(N, C (C + 1) / 2)``.
    """
    nt, c, h, w = x.shape
    n = nt // num_segments
    x = x.reshape(n, num_segments, c, h * w).transpose(1, 2)
    x = x.reshape(n, c, num_segments * h * w)
    return mpncov_isqrt(x, num_iter)


class TemporalSpatialAttention(nn.Module):
    """TSA: spatial attention of frame ``t`` from frames ``t - 1``, ``t - 2``.

    ``A = softmax_b(phi_1(x_{t-1})^T phi_2(x_{t-2}) / sqrt(C))`` (``HW x HW``,
    softmax over the positions of frame ``t - 2``), ``out = x + BN(phi_0(x)
    A^T)`` (TCP Eq. 3-4, the authors' non-local-style ``TSA.py``); frames
    before the first one are replicated (the authors' padding). The BN's
    weight starts at zero, so ``out = x`` at initialisation.

    Args:
        channels (int): Channels ``C``.
        num_segments (int): Frames per video ``T``.
        norm_cfg (dict): Norm after the attention. Defaults to BN.

    Shapes:
        - input: ``(N * T, C, H, W)``
        - output: ``(N * T, C, H, W)``
    """

    def __init__(self, channels: int, num_segments: int,
                 norm_cfg: Dict = dict(type='BN')) -> None:
        super().__init__()
        self.num_segments = num_segments
        self.scale = channels**-0.5
        self.conv_prev1 = nn.Conv2d(channels, channels, 1)
        self.conv_prev2 = nn.Conv2d(channels, channels, 1)
        self.conv_cur = nn.Conv2d(channels, channels, 1)
        self.norm = build_norm_layer(norm_cfg, channels)[1]
        self.init_weights()

    def init_weights(self) -> None:
        """MSRA convs, zero BN weight (the attention starts off)."""
        for conv in (self.conv_prev1, self.conv_prev2, self.conv_cur):
            kaiming_init(conv, mode='fan_out', nonlinearity='relu')
        constant_init(self.norm, 0)

    def forward(self, x: Tensor) -> Tensor:
        nt, c, h, w = x.shape
        frames = x.view(nt // self.num_segments, self.num_segments, c, h, w)
        prev1 = shift_frames(frames, 1, 'replicate').reshape(nt, c, h, w)
        prev2 = shift_frames(frames, 2, 'replicate').reshape(nt, c, h, w)
        query = self.conv_prev1(prev1).flatten(2)  # (NT, C, HW)
        key = self.conv_prev2(prev2).flatten(2)
        value = self.conv_cur(x).flatten(2)
        affinity = torch.bmm(query.transpose(1, 2), key) * self.scale
        affinity = affinity.softmax(dim=2)  # (NT, HW_t-1, HW_t-2)
        out = torch.bmm(value, affinity.transpose(1, 2)).view(nt, c, h, w)
        return x + self.norm(out)


class TemporalChannelAttention(nn.Module):
    """TCA: channel attention from first- and second-order temporal
    differences of the frames' mean features.

    ``p_t = GAP(x_t)``, ``d1 = p_t - p_{t-1}``, ``d2 = (p_t - p_{t-2}) / 2``
    (circular in ``t``, as the authors' ``TCA.py``), ``g(d) = sigmoid(W2
    ReLU(W1 d))`` shared by both (``C -> 4C -> C``), ``out = y (g(d1) +
    g(d2)) / 2`` (TCP Eq. 5) for the TSA output ``y``.

    Args:
        channels (int): Channels ``C``.
        num_segments (int): Frames per video ``T``.
        ratio (int): Hidden channels ``ratio * C``. Defaults to 4.

    Shapes:
        - input: ``x`` (differences taken on it) and ``y`` (scaled), both
          ``(N * T, C, H, W)``
        - output: ``(N * T, C, H, W)``
    """

    def __init__(self, channels: int, num_segments: int,
                 ratio: int = 4) -> None:
        super().__init__()
        self.num_segments = num_segments
        self.fc1 = nn.Conv2d(channels, channels * ratio, 1)
        self.fc2 = nn.Conv2d(channels * ratio, channels, 1)
        self.init_weights()

    def init_weights(self) -> None:
        """N(0, 0.01) weights, zero biases, as the authors'."""
        normal_init(self.fc1, std=0.01)
        normal_init(self.fc2, std=0.01)

    def _gate(self, d: Tensor) -> Tensor:
        return self.fc2(self.fc1(d).relu()).sigmoid()

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        nt, c = x.shape[:2]
        p = x.mean(dim=(2, 3), keepdim=True)
        p = p.view(nt // self.num_segments, self.num_segments, c, 1, 1)
        d1 = (p - shift_frames(p, 1, 'circular')).reshape(nt, c, 1, 1)
        d2 = ((p - shift_frames(p, 2, 'circular')) * 0.5).reshape(
            nt, c, 1, 1)
        return y * (self._gate(d1) + self._gate(d2)) * 0.5


class TemporalAttention(nn.Module):
    """Temporal-attentive calibration in front of TCP's covariance pooling.

    ``y = TCA(x, TSA(x))``, then a temporal conv over the frames (kernel
    ``k = T // 2 + 1``, circular), and ``ReLU(x + conv(y))`` (the authors'
    ``TCP_att_module.py``). The conv's weight and bias start at zero, so the
    module is the identity on its (non-negative, ReLU) input at
    initialisation. The circular padding is explicit (``(k - 1) // 2``
    frames before, ``k // 2`` after), so the output has ``T`` frames for
    every ``T`` and torch version; the authors pick the padding from a
    string comparison of the torch version, which gives ``k - 1`` on torch
    1.10-1.13, 2.0-2.4 and 2.10+ and breaks their forward there.

    Without the temporal conv the output is ``y`` (no shortcut, as the
    authors' ablation); with no part at all, the identity.

    Args:
        channels (int): Channels ``C``.
        num_segments (int): Frames per video ``T``.
        use_tsa (bool): TSA. Defaults to True.
        use_tca (bool): TCA. Defaults to True.
        use_temporal_conv (bool): The temporal conv and shortcut. Defaults
            to True.
        norm_cfg (dict): TSA's norm. Defaults to BN.

    Shapes:
        - input: ``(N * T, C, H, W)``
        - output: ``(N * T, C, H, W)``
    """

    def __init__(self,
                 channels: int,
                 num_segments: int,
                 use_tsa: bool = True,
                 use_tca: bool = True,
                 use_temporal_conv: bool = True,
                 norm_cfg: Dict = dict(type='BN')) -> None:
        super().__init__()
        self.num_segments = num_segments
        self.tsa = TemporalSpatialAttention(channels, num_segments,
                                            norm_cfg) if use_tsa else None
        self.tca = TemporalChannelAttention(
            channels, num_segments) if use_tca else None
        self.kernel_size = num_segments // 2 + 1
        self.temporal_conv = nn.Conv3d(
            channels, channels, (self.kernel_size, 1, 1)) \
            if use_temporal_conv else None
        self.init_weights()

    def init_weights(self) -> None:
        """Each part's own initialisation; the temporal conv at zero."""
        for part in (self.tsa, self.tca):
            if part is not None:
                part.init_weights()
        if self.temporal_conv is not None:
            constant_init(self.temporal_conv, 0)

    def _temporal_conv(self, y: Tensor) -> Tensor:
        nt, c, h, w = y.shape
        y = y.view(nt // self.num_segments, self.num_segments, c, h, w)
        y = y.transpose(1, 2)  # (N, C, T, H, W)
        k = self.kernel_size
        y = F.pad(y, (0, 0, 0, 0, (k - 1) // 2, k // 2), mode='circular')
        y = self.temporal_conv(y)
        return y.transpose(1, 2).reshape(nt, c, h, w)

    def forward(self, x: Tensor) -> Tensor:
        y = self.tsa(x) if self.tsa is not None else x
        if self.tca is not None:
            y = self.tca(x, y)
        if self.temporal_conv is None:
            return y
        return F.relu(x + self._temporal_conv(y))


@MODELS.register_module()
class TCPHead(BaseHead):
    """TCP head: reduction, temporal attention, video covariance, iSQRT,
    classifier.

    ``(N * V * T, in_channels, H, W)`` per-frame maps (``V`` test views of
    ``T`` frames) -> ``ReLU(BN(Conv1x1))`` to ``inner_channels`` and to
    ``reduced_channels`` ``d`` -> :class:`TemporalAttention` -> covariance
    of the ``T H W`` positions of each view -> ``num_iter`` Newton-Schulz
    iterations -> ``d (d + 1) / 2`` upper triangle (8,256 for ``d = 128``) ->
    dropout -> linear classifier. At test time the views' scores are fused
    by ``view_fusion``: ``'max'`` (the authors' ``test_models.py``, after a
    softmax with ``average_clips='prob'``) or ``'mean'`` (mmaction2's).

    Use with a ``Recognizer2D`` whose ResNet has the last stage at stride 1
    (``strides=(1, 2, 2, 1)``, a 14 x 14 map at 224 x 224) and with
    ``num_segments`` equal to the frames sampled per view.

    Args:
        num_classes (int): Classes.
        in_channels (int): Channels of the backbone's map. Defaults to 2048.
        num_segments (int): Frames per view ``T``; sets the temporal conv's
            kernel ``T // 2 + 1``. Defaults to 8.
        inner_channels (int): Channels after the first reduction. Defaults
            to 256.
        reduced_channels (int): Channels ``d`` pooled. Defaults to 128.
        num_iter (int): Newton-Schulz iterations. Defaults to 3.
        use_tsa (bool): Temporal-based spatial attention. Defaults to True.
        use_tca (bool): Temporal-based channel attention. Defaults to True.
        use_temporal_conv (bool): Temporal conv with shortcut. Defaults to
            True.
        dropout_ratio (float): Dropout before the classifier. Defaults to
            0.5.
        init_std (float): Std of the classifier's weight. Defaults to 0.001.
        view_fusion (str): ``'max'`` or ``'mean'`` over test views.
            Defaults to ``'max'``.
        norm_cfg (dict): Norm layers. Defaults to BN.
        kwargs: :class:`mmaction.models.heads.BaseHead`'s (``loss_cls``,
            ``average_clips``, ``topk``, ``init_cfg``, ...).

    Shapes:
        - input: ``(N * V * T, in_channels, H, W)`` with ``num_segs = V T``
        - output: ``(N * V, num_classes)``
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int = 2048,
                 num_segments: int = 8,
                 inner_channels: int = 256,
                 reduced_channels: int = 128,
                 num_iter: int = 3,
                 use_tsa: bool = True,
                 use_tca: bool = True,
                 use_temporal_conv: bool = True,
                 dropout_ratio: float = 0.5,
                 init_std: float = 0.001,
                 view_fusion: str = 'max',
                 norm_cfg: Dict = dict(type='BN'),
                 **kwargs) -> None:
        check_arg(self, 'num_classes', num_classes, int, low=1)
        check_arg(self, 'in_channels', in_channels, int, low=1)
        check_arg(self, 'num_segments', num_segments, int, low=1)
        check_arg(self, 'inner_channels', inner_channels, int, low=1)
        check_arg(self, 'reduced_channels', reduced_channels, int, low=1)
        check_arg(self, 'num_iter', num_iter, int, low=1)
        for name, flag in (('use_tsa', use_tsa), ('use_tca', use_tca),
                           ('use_temporal_conv', use_temporal_conv)):
            check_arg(self, name, flag, bool)
        check_arg(self, 'dropout_ratio', dropout_ratio, float, low=0, high=1)
        check_arg(self, 'init_std', init_std, float, low=0)
        check_arg(self, 'view_fusion', view_fusion, choices=('max', 'mean'))
        super().__init__(num_classes, in_channels, **kwargs)
        self.num_segments = num_segments
        self.num_iter = num_iter
        self.view_fusion = view_fusion
        self.init_std = init_std
        self.reduce1 = ConvModule(
            in_channels, inner_channels, 1, bias=False, norm_cfg=norm_cfg)
        self.reduce2 = ConvModule(
            inner_channels, reduced_channels, 1, bias=False,
            norm_cfg=norm_cfg)
        self.attention = TemporalAttention(
            reduced_channels, num_segments, use_tsa, use_tca,
            use_temporal_conv, norm_cfg)
        self.out_channels = reduced_channels * (reduced_channels + 1) // 2
        self.dropout = nn.Dropout(dropout_ratio) if dropout_ratio else None
        self.fc_cls = nn.Linear(self.out_channels, num_classes)
        self._init_layers()

    def _init_layers(self) -> None:
        # ConvModule's own init is the authors' (Kaiming fan-out, unit BN)
        self.reduce1.init_weights()
        self.reduce2.init_weights()
        self.attention.init_weights()
        normal_init(self.fc_cls, std=self.init_std)

    def init_weights(self) -> None:
        """The authors' initialisation, then ``init_cfg`` (e.g. the
        reduction layers from an ImageNet GCP checkpoint, ``Pretrained``
        with ``prefix='cls_head.'``)."""
        self._init_layers()
        super().init_weights()

    def _check_input(self, x: Tensor, num_segs: int) -> None:
        name = type(self).__name__
        if not isinstance(x, Tensor) or x.dim() != 4 \
                or x.size(1) != self.in_channels:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x)
            raise ValueError(
                f'{name} expects frame maps (N * num_segs, {self.in_channels}'
                f', H, W) (in_channels={self.in_channels}), but got {shape}')
        if num_segs % self.num_segments or x.size(0) % num_segs:
            raise ValueError(
                f'{name}: {num_segs} frames per sample is not a multiple of '
                f'num_segments={self.num_segments}: sample num_segments '
                'frames per view (the pipeline\'s SampleFrames num_clips '
                'with clip_len=1)')
        positions = self.num_segments * x.size(2) * x.size(3)
        if positions < 2:
            raise ValueError(
                f'{name}: a video has {positions} position(s) (num_segments='
                f'{self.num_segments} frames of {x.size(2)} x {x.size(3)}); '
                'the covariance needs at least 2: raise num_segments or the '
                'input size (the pipeline\'s crop_size / scale), or keep the '
                "backbone's last stage at stride 1 (strides=(1, 2, 2, 1))")
        try:
            check_finite(name, x=x)
        except ValueError as err:
            raise ValueError(
                f'{err}: the backbone output diverged; lower '
                'optim_wrapper.optimizer.lr or set optim_wrapper.clip_grad '
                '(the authors clip at max_norm=20)') from None

    def forward(self, x: Tensor, num_segs: Optional[int] = None,
                **kwargs) -> Tensor:
        """Class scores of each view.

        Args:
            x (Tensor): ``(N * num_segs, in_channels, H, W)``.
            num_segs (int, optional): Frames per sample, ``V * T`` with ``V``
                views (``Recognizer2D`` passes it). Defaults to
                ``num_segments``.

        Returns:
            Tensor: ``(N * V, num_classes)``.
        """
        num_segs = self.num_segments if num_segs is None else num_segs
        self._check_input(x, num_segs)
        x = self.attention(self.reduce2(self.reduce1(x)))
        x = video_isqrt_cov(x, self.num_segments, self.num_iter)
        if self.dropout is not None:
            x = self.dropout(x)
        # float32 scores also under bf16 autocast: mmaction2's loss_by_feat
        # computes top-k accuracy in NumPy, which has no bfloat16
        return self.fc_cls(x).float()

    def average_clip(self, cls_scores: Tensor, num_segs: int = 1) -> Tensor:
        """Fuse the views' scores ``(N * V, K)`` -> ``(N, K)`` by
        ``view_fusion`` after ``average_clips`` (``'prob'``: softmax,
        ``'score'``: raw scores; ``None``: ``(N, V, K)`` unfused)."""
        if self.average_clips not in ('score', 'prob', None):
            raise ValueError(
                f'{type(self).__name__}: average_clips='
                f'{self.average_clips!r} is invalid; expected one of '
                "'score', 'prob', None")
        cls_scores = cls_scores.view((-1, num_segs) + cls_scores.shape[1:])
        if self.average_clips is None:
            return cls_scores
        if self.average_clips == 'prob':
            cls_scores = F.softmax(cls_scores, dim=2)
        if self.view_fusion == 'max':
            return cls_scores.max(dim=1)[0]
        return cls_scores.mean(dim=1)



# ------------------------------------------------ the authors' checkpoints
_BN = r'(?:weight|bias|running_mean|running_var|num_batches_tracked)'

#: The authors' older TCP key style (released checkpoints whose keys hold
#: ``iSQRT``; their ``ops/keys_mapping.py``) -> the newer one, and the
#: Sequential reduction layers of their R152 / TEA ImageNet GCP files.
_OLD_STYLE_RULES = (
    (r'^(?:layer4\.)?iSQRT\.', 'TCP.'),
    (r'\.att_module\.sp_att\.conv_theta\.', '.TCP_att.TSA.conv_phi_1.'),
    (r'\.att_module\.sp_att\.conv_phi\.', '.TCP_att.TSA.conv_phi_2.'),
    (r'\.att_module\.sp_att\.conv_g\.', '.TCP_att.TSA.conv_phi0.'),
    (r'\.att_module\.sp_att\.', '.TCP_att.TSA.'),
    (r'\.att_module\.conv_1\.', '.TCP_att.TCA.g1.'),
    (r'\.att_module\.conv_2\.', '.TCP_att.TCA.g2.'),
    (r'\.att_module\.', '.TCP_att.'),
    (r'^layer_reduce', 'TCP.layer_reduce'),  # ImageNet GCP files
    (rf'layer_reduce(\d)\.1\.({_BN})$', r'layer_reduce_bn\1.\2'),
    (r'layer_reduce(\d)\.0\.weight$', r'layer_reduce\1.weight'),
)

#: The authors' head (newer style) -> :class:`TCPHead`.
_HEAD_RULES = (
    (r'^new_fc\.', 'cls_head.fc_cls.'),
    (r'^TCP\.layer_reduce(\d)\.weight$', r'cls_head.reduce\1.conv.weight'),
    (rf'^TCP\.layer_reduce_bn(\d)\.({_BN})$', r'cls_head.reduce\1.bn.\2'),
    (r'^TCP\.TCP_att\.TSA\.conv_phi_1\.', 'cls_head.attention.tsa.'
     'conv_prev1.'),
    (r'^TCP\.TCP_att\.TSA\.conv_phi_2\.', 'cls_head.attention.tsa.'
     'conv_prev2.'),
    (r'^TCP\.TCP_att\.TSA\.conv_phi0\.', 'cls_head.attention.tsa.conv_cur.'),
    (r'^TCP\.TCP_att\.TSA\.norm\.', 'cls_head.attention.tsa.norm.'),
    (r'^TCP\.TCP_att\.TCA\.g1\.', 'cls_head.attention.tca.fc1.'),
    (r'^TCP\.TCP_att\.TCA\.g2\.', 'cls_head.attention.tca.fc2.'),
    (r'^TCP\.TCP_att\.conv_1d\.', 'cls_head.attention.temporal_conv.'),
)

#: torchvision's ResNet (the authors' R50) -> mmaction2's ``ResNet`` /
#: ``ResNetTSM`` (``{shift}`` is ``.net`` where the temporal shift wraps the
#: block's first conv).
_TORCHVISION_RESNET_RULES = (
    (r'^conv1\.weight$', 'backbone.conv1.conv.weight'),
    (rf'^bn1\.({_BN})$', r'backbone.conv1.bn.\1'),
    (r'^layer(\d)\.(\d+)\.conv1\.(?:net\.)?weight$',
     r'backbone.layer\1.\2.conv1.conv{shift}.weight'),
    (r'^layer(\d)\.(\d+)\.conv([23])\.weight$',
     r'backbone.layer\1.\2.conv\3.conv.weight'),
    (rf'^layer(\d)\.(\d+)\.bn(\d)\.({_BN})$',
     r'backbone.layer\1.\2.conv\3.bn.\4'),
    (r'^layer(\d)\.(\d+)\.downsample\.0\.weight$',
     r'backbone.layer\1.\2.downsample.conv.weight'),
    (rf'^layer(\d)\.(\d+)\.downsample\.1\.({_BN})$',
     r'backbone.layer\1.\2.downsample.bn.\3'),
)


def _first_rule(key: str, rules) -> Optional[str]:
    for pattern, repl in rules:
        if re.search(pattern, key):
            return re.sub(pattern, repl, key, count=1)
    return None


def convert_tcp_checkpoint(state_dict: Dict[str, Tensor],
                           tsm: Optional[bool] = None
                           ) -> Tuple[Dict[str, Tensor], Dict]:
    """Map the TCP authors' keys to an mmaction2 ``Recognizer2D`` with
    mmext's :class:`TCPHead`.

    Accepted: their trained TCP checkpoints in both key styles (the newer
    ``base_model.TCP.*`` / ``TCP_att.{TSA,TCA,conv_1d}``, and the older one
    with ``iSQRT`` and ``att_module.{sp_att,conv_1,conv_2}`` that their
    ``keys_mapping.py`` renames), and their ImageNet GCP checkpoints (the
    backbone and the ``layer_reduce{1,2}`` reduction, as plain or
    ``Sequential`` layers; the ImageNet ``fc`` is dropped), each with or
    without DataParallel's ``module.`` prefix. ResNet-50 becomes mmaction2's
    ``ResNet`` (``ResNetTSM`` with ``tsm``, the shifted convs under
    ``.net``), the pre-activation ResNet-152 (recognised by ``bn_data``)
    mmext's :class:`~mmext.models.backbones.PreActResNet` (the same names).

    Args:
        state_dict (dict): The authors' state dict.
        tsm (bool, optional): Map to ``ResNetTSM``; None (default) detects
            it from TSM-trained keys (``conv1.net``).

    Returns:
        tuple: The converted state dict and what was found: ``backbone``
        (``'resnet50'``/``'preact-resnet152'``), ``tsm``, ``kind``
        (``'tcp'`` or ``'gcp'``), ``num_classes`` and ``num_segments``
        (None for a GCP file; the frames ``2 (k - 1)`` from the temporal
        conv's kernel ``k``), ``dropped`` (keys left out).

    Raises:
        KeyError: A key that belongs to no part of the model, or a TEA
            (Res2Net) checkpoint, for which mmext has no backbone.
    """
    keys = {}
    for key in state_dict:
        new = key[len('module.'):] if key.startswith('module.') else key
        new = re.sub(r'^base_model\.', '', new)
        for pattern, repl in _OLD_STYLE_RULES:
            new = re.sub(pattern, repl, new, count=1)
        keys[key] = new
    canonical = set(keys.values())
    if any('.convs.' in k or '.me.' in k for k in canonical):
        raise KeyError('a TEA-R50 (Res2Net with ME modules) checkpoint: mmext '
                       'has no TEA backbone; R50, TSM-R50 and pre-activation '
                       'R152 checkpoints are supported')
    preact = 'bn_data.weight' in canonical
    if tsm is None:
        tsm = any(re.search(r'\.conv1\.net\.weight$', k) for k in canonical)
    rules = tuple((p, r.format(shift='.net' if tsm else ''))
                  for p, r in _TORCHVISION_RESNET_RULES)
    out, dropped = {}, []
    for key, canon in keys.items():
        if canon.startswith(('fc.', 'TCP.', 'new_fc.')):
            if canon.startswith('fc.'):
                dropped.append(key)  # the ImageNet classifier of GCP files
                continue
            new = _first_rule(canon, _HEAD_RULES)
        elif preact:
            new = 'backbone.' + canon
        else:
            new = _first_rule(canon, rules)
        if new is None:
            raise KeyError(f'no mmext counterpart for the key {key!r} (not a '
                           'TCP or TCP-GCP ResNet checkpoint)')
        out[new] = state_dict[key]
    conv = out.get('cls_head.attention.temporal_conv.weight')
    fc = out.get('cls_head.fc_cls.weight')
    info = dict(
        backbone='preact-resnet152' if preact else 'resnet50',
        tsm=bool(tsm),
        kind='tcp' if fc is not None else 'gcp',
        num_classes=None if fc is None else fc.size(0),
        num_segments=None if conv is None else 2 * (conv.size(2) - 1),
        dropped=dropped)
    return out, info
