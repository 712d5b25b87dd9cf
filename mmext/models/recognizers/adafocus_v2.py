"""AdaFocusV2: a patch per frame, end to end, with a prediction per frame.

Wang et al., "AdaFocus V2: End-to-End Training of Spatial Dynamic Networks
for Video Recognition", CVPR 2022 (Sec. 3), the ActivityNet / FCVID /
Mini-Kinetics variant of the authors' ``models/adafocus_v2.py`` and
``main_v2.py``.

Each of the ``T`` frames of a video goes whole through the global network
``f_G`` (MobileNetV2 on the 224-pixel frame, or a network on the frame
resized to ``glance_size``). The policy (:class:`~mmext.models.heads.
AdaFocusV2Policy`, a GRU over the frames) reads the *detached* global
feature map and chooses a ``P x P`` patch whose top-left corner is
``a (H - P)``; the patch is read by bilinear interpolation
(:func:`~mmext.models.utils.bilinear_patches`), so the policy learns from
the classification loss. The local network ``f_L`` (ResNet-50) encodes it;
the classifier (:class:`~mmext.models.heads.AdaFocusV2Head`) pools the
concatenated pooled features with a running max and predicts after every
frame. The frames are put in a coarse-to-fine order first
(:func:`coarse_to_fine_order`, the authors' ``--sample``), so the early
exits see frames spread over the whole video.

Training (Sec. 3.2, ``main_v2.py``): a second pass with uniformly random
patches joins the policy's; the loss is
``1/2 sum_{policy, random} [CE(f_C, all T steps) + CE(f_L's fc)] +
CE(f_G's fc)``, every frame labelled with the video's class (the global
term is the same in both passes of the authors' sum). At test time the
model implements :class:`~mmext.models.utils.MultiExitMixin` over frames:
step ``t`` runs ``f_G``, the policy, ``f_L`` and the classifier on frame
``t``, so :func:`~mmext.models.utils.early_exit_predict` and
``tools/analysis_tools/adaptive_inference.py`` give the conditional exit
(AdaFocusV2+) without retraining.
"""
import copy
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import Tensor, nn

from mmext.models.utils.bilinear_crop import bilinear_patches
from mmext.models.utils.multi_exit import MultiExitMixin
from mmext.registry import MODELS
from mmext.utils.validation import check_arg

__all__ = [
    'AdaFocusV2', 'coarse_to_fine_order', 'map_parts', 'checkpoint_filter_fn'
]


def coarse_to_fine_order(num_frames: int) -> List[int]:
    """The authors' frame order for early exit (``input_order``).

    The middle frame, the first, the last, then the midpoints of ever finer
    uniform subdivisions, e.g. ``[7, 0, 15, 3, 11, 1, 5, 9, 13, 2, 4, ...]``
    for 16 frames.

    Args:
        num_frames (int): ``T``.

    Returns:
        list[int]: A permutation of ``0..T-1``.
    """
    order = list(dict.fromkeys([(num_frames - 1) // 2, 0, num_frames - 1]))
    parts = 2
    while len(order) < num_frames:
        bounds = np.floor(np.linspace(0, num_frames - 1, parts + 1))
        for a, b in zip(bounds[:-1], bounds[1:]):
            mid = int((a + b) // 2)
            if mid not in order:
                order.append(mid)
        parts *= 2
    return order


def _pooled_map(backbone: nn.Module, x: Tensor) -> Tuple[Tensor, Tensor]:
    """``(B, 3, h, w)`` -> last feature map ``(B, C, h', w')`` and its
    average ``(B, C)``."""
    feat = backbone(x)
    if isinstance(feat, (tuple, list)):
        feat = feat[-1]
    return feat, feat.mean((2, 3))


@MODELS.register_module()
class AdaFocusV2(BaseModel, MultiExitMixin):
    """AdaFocusV2 recognizer with a GRU policy and an exit per frame.

    Args:
        global_backbone (dict): Config of ``f_G`` (e.g. mmaction2's
            ``MobileNetV2`` with ``out_indices=(7,)``), giving a
            ``(global_channels, h, w)`` map.
        local_backbone (dict): Config of ``f_L`` (e.g. mmaction2's
            ``ResNet``, depth 50), giving ``local_channels`` maps.
        policy (dict): ``AdaFocusV2Policy`` config (``in_channels``
            defaults to ``global_channels``; ``state_size`` is ``h``).
        classifier (dict): ``AdaFocusV2Head`` config (``in_channels``,
            ``num_classes`` and ``num_segments`` are filled in).
        num_classes (int): Number of classes.
        num_segments (int): ``T``, frames per video view.
        patch_size (int): ``P``, side of the local patches.
        global_channels (int): Channels of ``f_G``'s output (1280).
        local_channels (int): Channels of ``f_L``'s output (2048).
        glance_size (int, optional): Side to which frames are resized
            (bilinear, ``align_corners=True``) before ``f_G`` (authors'
            ResNet-50 glance: 96); None: the full frame.
        fc_dropout (float): Dropout before ``f_G``'s and ``f_L``'s own
            linear heads (the auxiliary losses).
        frame_order (str): ``'coarse_to_fine'`` (authors) or
            ``'temporal'`` (as sampled).
        data_preprocessor (dict, optional): Defaults to mmaction2's
            ``ActionDataPreprocessor``.
        init_cfg (dict, optional): Initialisation config.

    Shapes:
        - inputs: ``(N, V T, 3, H, H)``: ``V`` views of ``T`` frames
          (``FormatShape`` ``'NCHW'``), ``H >= patch_size``; the views'
          logits are averaged.
        - forward(mode='tensor'): ``(T, N, num_classes)`` logits of every
          exit.
    """

    def __init__(self,
                 global_backbone: dict,
                 local_backbone: dict,
                 policy: dict,
                 classifier: dict,
                 num_classes: int,
                 num_segments: int = 16,
                 patch_size: int = 128,
                 global_channels: int = 1280,
                 local_channels: int = 2048,
                 glance_size: Optional[int] = None,
                 fc_dropout: float = 0.2,
                 frame_order: str = 'coarse_to_fine',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        check_arg(self, 'global_backbone', global_backbone, dict)
        check_arg(self, 'local_backbone', local_backbone, dict)
        check_arg(self, 'policy', policy, dict)
        check_arg(self, 'classifier', classifier, dict)
        check_arg(self, 'num_classes', num_classes, int, low=1)
        check_arg(self, 'num_segments', num_segments, int, low=1)
        check_arg(self, 'patch_size', patch_size, int, low=1)
        check_arg(self, 'global_channels', global_channels, int, low=1)
        check_arg(self, 'local_channels', local_channels, int, low=1)
        check_arg(self, 'glance_size', glance_size, int, low=1,
                  allow_none=True)
        check_arg(self, 'fc_dropout', fc_dropout, float, low=0, high=1)
        check_arg(self, 'frame_order', frame_order,
                  choices=('coarse_to_fine', 'temporal'))
        data_preprocessor = dict(data_preprocessor or {})
        data_preprocessor.setdefault('type', 'mmaction.ActionDataPreprocessor')
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.global_backbone = MODELS.build(copy.deepcopy(global_backbone))
        self.local_backbone = MODELS.build(copy.deepcopy(local_backbone))
        self.global_fc = nn.Sequential(
            nn.Dropout(fc_dropout), nn.Linear(global_channels, num_classes))
        self.local_fc = nn.Sequential(
            nn.Dropout(fc_dropout), nn.Linear(local_channels, num_classes))
        policy = dict(policy)
        policy.setdefault('in_channels', global_channels)
        self.policy = MODELS.build(policy)
        classifier = dict(
            classifier,
            in_channels=global_channels + local_channels,
            num_classes=num_classes,
            num_segments=num_segments)
        self.classifier = MODELS.build(classifier)
        self.num_classes = num_classes
        self.num_segments = num_segments
        self.patch_size = patch_size
        self.glance_size = glance_size
        self.frame_order = coarse_to_fine_order(num_segments) if \
            frame_order == 'coarse_to_fine' else list(range(num_segments))

    @property
    def num_steps(self) -> int:
        return self.num_segments

    def _frames(self, inputs: Tensor) -> Tuple[Tensor, int]:
        """``(N, V T, 3, H, H)`` -> ``(N V, T, 3, H, H)`` in the frame
        order, and ``V``."""
        if inputs.dim() != 5 or inputs.shape[1] % self.num_segments or \
                inputs.shape[-1] != inputs.shape[-2]:
            raise ValueError(
                f'AdaFocusV2: inputs of shape {tuple(inputs.shape)}; '
                f'expected (N, V x model.num_segments={self.num_segments}, '
                "3, H, H) (square frames, FormatShape input_format='NCHW')")
        if inputs.shape[-1] < self.patch_size:
            raise ValueError(
                f'AdaFocusV2: model.patch_size={self.patch_size} is larger '
                f'than the {inputs.shape[-1]}x{inputs.shape[-1]} frames; use '
                'a smaller patch_size or larger crops in the pipeline')
        views = inputs.shape[1] // self.num_segments
        frames = inputs.view(-1, self.num_segments, *inputs.shape[2:])
        order = torch.as_tensor(self.frame_order, device=inputs.device)
        return frames.index_select(1, order), views

    def _global(self, frames: Tensor) -> Tuple[Tensor, Tensor]:
        """``(B, 3, H, H)`` -> ``f_G``'s map ``(B, C_G, h, w)`` and pooled
        feature ``(B, C_G)``."""
        if self.glance_size is not None:
            frames = F.interpolate(
                frames, (self.glance_size, self.glance_size),
                mode='bilinear',
                align_corners=True)
        return _pooled_map(self.global_backbone, frames)

    def _local(self, frames: Tensor, actions: Tensor) -> Tensor:
        """``(B, 3, H, H)`` frames and ``(B, 2)`` positions in ``[0, 1]``
        -> ``f_L``'s pooled feature ``(B, C_L)`` of the patches."""
        span = frames.shape[-1] - self.patch_size
        centres = actions * span + (self.patch_size - 1) / 2
        patches = bilinear_patches(frames, centres, self.patch_size)
        return _pooled_map(self.local_backbone, patches)[1]

    def _labels(self, data_samples: list, views: int,
                device: torch.device) -> Tensor:
        labels = torch.cat([s.gt_label.reshape(-1)[:1] for s in data_samples])
        return labels.to(device).repeat_interleave(views)

    def loss(self, inputs: Tensor, data_samples: list) -> Dict[str, Tensor]:
        """The authors' loss (module docstring), as ``loss_cls`` (fused,
        all steps), ``loss_global`` and ``loss_local``."""
        frames, views = self._frames(inputs)
        b, t = frames.shape[:2]
        flat = frames.flatten(0, 1)
        labels = self._labels(data_samples, views,
                              inputs.device).repeat_interleave(t)
        state, glob = self._global(flat)
        losses = dict(
            loss_global=F.cross_entropy(self.global_fc(glob), labels))
        actions = self.policy(state.detach().unflatten(0, (b, t)))
        losses['loss_cls'] = losses['loss_local'] = 0
        for actions in (actions.flatten(0, 1), torch.rand(
                b * t, 2, device=inputs.device, dtype=state.dtype)):
            local = self._local(flat, actions)
            logits = self.classifier(
                torch.cat([glob, local], 1).unflatten(0, (b, t)))
            losses['loss_cls'] = losses['loss_cls'] + F.cross_entropy(
                logits.flatten(0, 1), labels) / 2
            losses['loss_local'] = losses['loss_local'] + F.cross_entropy(
                self.local_fc(local), labels) / 2
        return losses

    def _all_steps(self, inputs: Tensor) -> Tensor:
        """``(T, N, num_classes)`` logits of every exit, the frames of all
        videos in one batch (the policy's patches)."""
        frames, views = self._frames(inputs)
        b, t = frames.shape[:2]
        flat = frames.flatten(0, 1)
        state, glob = self._global(flat)
        actions = self.policy(state.unflatten(0, (b, t))).flatten(0, 1)
        local = self._local(flat, actions)
        logits = self.classifier(
            torch.cat([glob, local], 1).unflatten(0, (b, t)))
        return logits.unflatten(0, (-1, views)).mean(1).transpose(0, 1)

    def forward_steps(self, inputs: Tensor):
        """Frame ``t``'s exit: yield ``(B_t, num_classes)`` logits, receive
        ``keep`` (:class:`~mmext.models.utils.MultiExitMixin`)."""
        frames, views = self._frames(inputs)
        active = torch.arange(frames.shape[0], device=inputs.device)
        hidden = pooled = None
        for t in range(self.num_segments):
            x = frames[active, t]
            state, glob = self._global(x)
            actions, hidden = self.policy.step(state, hidden)
            logits, pooled = self.classifier.step(
                torch.cat([glob, self._local(x, actions)], 1), pooled, t)
            keep = yield logits.unflatten(0, (-1, views)).mean(1)
            if t == self.num_segments - 1:
                return
            rows = (keep[:, None] * views + torch.arange(
                views, device=keep.device)).flatten()
            active, hidden, pooled = active[rows], hidden[:, rows], \
                pooled[rows]

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[list] = None,
                mode: str = 'tensor'):
        if mode == 'tensor':
            return self._all_steps(inputs)
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}".')

    @torch.no_grad()
    def predict(self, inputs: Tensor, data_samples: list) -> list:
        """Every exit's logits as ``step_logits`` ``(T, num_classes)`` (for
        :class:`~mmext.evaluation.metrics.MultiExitAccuracy`), the last
        exit's probabilities as ``pred_score``."""
        logits = self._all_steps(inputs)
        for sample, sample_logits in zip(data_samples, logits.unbind(1)):
            sample.set_field(sample_logits, 'step_logits')
            sample.set_pred_score(sample_logits[-1].softmax(-1))
        return data_samples


#: the authors' top-level modules -> mmext's; their backbones' ImageNet
#: heads never run and are dropped
_AUTHORS_PARTS = OrderedDict(
    global_CNN='global_backbone',
    local_CNN='local_backbone',
    global_CNN_fc='global_fc',
    local_CNN_fc='local_fc',
    policy_stn='policy',
    classifier='classifier')
_UNUSED = ('global_CNN.classifier.', 'global_CNN.fc.', 'local_CNN.fc.')


def map_parts(state_dict: Dict[str, Tensor], model: nn.Module,
              parts: Dict[str, str],
              unused: Tuple[str, ...] = ()) -> Dict[str, Tensor]:
    """Map a checkpoint part by part, tensors matched by position.

    The authors' backbones (tonylins MobileNetV2, torchvision ResNet-50,
    TSM's wrappers) hold the same tensors in the same order as mmaction2's
    under other names, and their heads, policy and classifier differ from
    mmext's only in names, so each part's tensors are taken in order and
    every shape is checked.

    Args:
        state_dict (dict): Authors' keys, with or without ``module.``.
        model (nn.Module): The model to load into.
        parts (dict): Authors' key prefix -> ``model``'s (without the dot).
        unused (tuple[str]): Authors' key prefixes to skip.

    Returns:
        dict: ``model``'s keys.

    Raises:
        ValueError: A part has another number of tensors or another shape.
    """
    own = model.state_dict()
    keys = [(k[len('module.'):] if k.startswith('module.') else k, v)
            for k, v in state_dict.items()]
    out = {}
    for theirs, ours in parts.items():
        src = [(k, v) for k, v in keys
               if k.startswith(theirs + '.') and not k.startswith(unused)]
        dst = [k for k in own if k.startswith(ours + '.')]
        if len(src) != len(dst):
            raise ValueError(
                f'checkpoint part {theirs!r} has {len(src)} tensors; the '
                f"model's {ours!r} has {len(dst)} (another architecture or "
                'number of classes?)')
        for (key, value), target in zip(src, dst):
            if value.shape != own[target].shape:
                raise ValueError(
                    f'checkpoint {key} has shape {tuple(value.shape)}; the '
                    f"model's {target} has {tuple(own[target].shape)}")
            out[target] = value
    return out


def checkpoint_filter_fn(state_dict: Dict[str, Tensor],
                         model: AdaFocusV2) -> Dict[str, Tensor]:
    """Map an authors' checkpoint (``main_v2.py``'s ``state_dict``) to
    ``model``'s keys (:func:`map_parts`), dropping the backbones' ImageNet
    heads (``global_CNN.classifier``, ``local_CNN.fc``)."""
    return map_parts(state_dict, model, _AUTHORS_PARTS, _UNUSED)
