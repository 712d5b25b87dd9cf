"""AdaFocusV2 on TSM networks: one patch per video (Something-Something,
Jester).

Wang et al., "AdaFocus V2", CVPR 2022 (Sec. 4.2), the authors'
``Experiments on Sth-Sth and Jester/main.py`` and ``ops/models.py``.

A video is read twice: ``T_G`` glance frames (8) go whole through the global
network ``f_G`` (TSM MobileNetV2), ``T_L`` focus frames (12, sampled
separately; :class:`~mmext.datasets.transforms.GlanceFocusSampleFrames`)
through the local network ``f_L`` (TSM ResNet-50) on a ``P x P`` patch. The
policy (:class:`~mmext.models.heads.AdaFocusV2MLPPolicy`) reads the
detached feature maps of all glance frames and gives *one* position per
video, shared by its focus frames; the patches are read by bilinear
interpolation (:func:`~mmext.models.utils.bilinear_patches`), so the policy
learns from the loss. Each network has two linear heads on its pooled,
dropped-out frame features, averaged over the frames (TSN's consensus):
``*_fc`` on *detached* features, whose sum over both networks is the
prediction, and ``*_aux_fc`` on the features themselves, which train the
networks and the policy.

Training: a pass with a uniformly random patch joins the policy's; the loss
is ``1/2 sum_{random, policy} [CE(global_fc + local_fc) + CE(global_aux_fc)
+ CE(local_aux_fc)]``.
"""
import copy
from collections import OrderedDict
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import Tensor, nn

from mmext.models.recognizers.adafocus_v2 import _pooled_map, map_parts
from mmext.models.utils.bilinear_crop import bilinear_patches
from mmext.registry import MODELS
from mmext.utils.validation import check_arg

__all__ = ['AdaFocusV2TSM', 'checkpoint_filter_fn']


@MODELS.register_module()
class AdaFocusV2TSM(BaseModel):
    """AdaFocusV2 with TSM global and local networks and an MLP policy.

    Args:
        global_backbone (dict): Config of ``f_G`` (mmaction2's
            ``MobileNetV2TSM`` with ``num_segments = glance_segments``).
        local_backbone (dict): Config of ``f_L`` (mmaction2's
            ``ResNetTSM``, depth 50, ``num_segments = focus_segments``).
        policy (dict): ``AdaFocusV2MLPPolicy`` config (``in_channels``
            defaults to ``glance_segments x global_channels``).
        num_classes (int): Number of classes.
        glance_segments (int): ``T_G``, glance frames per view.
        focus_segments (int): ``T_L``, focus frames per view.
        patch_size (int): ``P``.
        global_channels (int): Channels of ``f_G``'s output (1280).
        local_channels (int): Channels of ``f_L``'s output (2048).
        dropout (float): Dropout on the pooled frame features (TSN's).
        data_preprocessor (dict, optional): Defaults to mmaction2's
            ``ActionDataPreprocessor``.
        init_cfg (dict, optional): Initialisation config.

    Shapes:
        - inputs: ``(N, V (T_G + T_L), 3, H, H)``: per view the glance
          frames then the focus frames, ``H >= patch_size``; the views'
          logits are averaged.
        - forward(mode='tensor'): ``(N, num_classes)`` logits.
    """

    def __init__(self,
                 global_backbone: dict,
                 local_backbone: dict,
                 policy: dict,
                 num_classes: int,
                 glance_segments: int = 8,
                 focus_segments: int = 12,
                 patch_size: int = 128,
                 global_channels: int = 1280,
                 local_channels: int = 2048,
                 dropout: float = 0.5,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        check_arg(self, 'global_backbone', global_backbone, dict)
        check_arg(self, 'local_backbone', local_backbone, dict)
        check_arg(self, 'policy', policy, dict)
        check_arg(self, 'num_classes', num_classes, int, low=1)
        check_arg(self, 'glance_segments', glance_segments, int, low=1)
        check_arg(self, 'focus_segments', focus_segments, int, low=1)
        check_arg(self, 'patch_size', patch_size, int, low=1)
        check_arg(self, 'global_channels', global_channels, int, low=1)
        check_arg(self, 'local_channels', local_channels, int, low=1)
        check_arg(self, 'dropout', dropout, float, low=0, high=1)
        data_preprocessor = dict(data_preprocessor or {})
        data_preprocessor.setdefault('type', 'mmaction.ActionDataPreprocessor')
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.global_backbone = MODELS.build(copy.deepcopy(global_backbone))
        self.global_fc = nn.Linear(global_channels, num_classes)
        self.global_aux_fc = nn.Linear(global_channels, num_classes)
        self.local_backbone = MODELS.build(copy.deepcopy(local_backbone))
        self.local_fc = nn.Linear(local_channels, num_classes)
        self.local_aux_fc = nn.Linear(local_channels, num_classes)
        policy = dict(policy)
        policy.setdefault('in_channels', glance_segments * global_channels)
        self.policy = MODELS.build(policy)
        self.dropout = nn.Dropout(dropout)
        self.glance_segments = glance_segments
        self.focus_segments = focus_segments
        self.patch_size = patch_size

    def _split(self, inputs: Tensor) -> Tuple[Tensor, Tensor, int]:
        """``(N, V (T_G + T_L), 3, H, H)`` -> glance ``(N V, T_G, 3, H,
        H)``, focus ``(N V, T_L, 3, H, H)`` and ``V``."""
        per_view = self.glance_segments + self.focus_segments
        if inputs.dim() != 5 or inputs.shape[1] % per_view or \
                inputs.shape[-1] != inputs.shape[-2]:
            raise ValueError(
                f'AdaFocusV2TSM: inputs of shape {tuple(inputs.shape)}; '
                f'expected (N, V x (model.glance_segments='
                f'{self.glance_segments} + model.focus_segments='
                f'{self.focus_segments}), 3, H, H) (GlanceFocusSampleFrames '
                "with the same numbers, FormatShape input_format='NCHW')")
        if inputs.shape[-1] < self.patch_size:
            raise ValueError(
                f'AdaFocusV2TSM: model.patch_size={self.patch_size} is '
                f'larger than the {inputs.shape[-1]}x{inputs.shape[-1]} '
                'frames; use a smaller patch_size or larger crops in the '
                'pipeline')
        videos = inputs.view(-1, per_view, *inputs.shape[2:])
        return videos[:, :self.glance_segments], \
            videos[:, self.glance_segments:], inputs.shape[1] // per_view

    @staticmethod
    def _heads(feat: Tensor, frames: int, fc: nn.Module,
               aux_fc: nn.Module) -> Tuple[Tensor, Tensor]:
        """``(B T, C)`` frame features -> frame-averaged ``(B, K)`` logits
        of ``fc`` (on detached features) and ``aux_fc``."""
        return fc(feat.detach()).unflatten(0, (-1, frames)).mean(1), \
            aux_fc(feat).unflatten(0, (-1, frames)).mean(1)

    def _glance(self, glance: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Global logits, auxiliary logits and the policy state ``(B, T_G
        C, h, w)`` (detached)."""
        fmap, feat = _pooled_map(self.global_backbone, glance.flatten(0, 1))
        logits, aux = self._heads(
            self.dropout(feat), self.glance_segments, self.global_fc,
            self.global_aux_fc)
        state = fmap.detach().unflatten(0, (-1, self.glance_segments))
        return logits, aux, state.flatten(1, 2)

    def _focus(self, focus: Tensor,
               actions: Tensor) -> Tuple[Tensor, Tensor]:
        """Local logits and auxiliary logits of the patches at ``actions``
        ``(B, 2)``, one position for all the focus frames of a video."""
        b, t, c, size = focus.shape[:4]
        centres = actions * (size - self.patch_size) + \
            (self.patch_size - 1) / 2
        patches = bilinear_patches(
            focus.flatten(1, 2), centres, self.patch_size)
        feat = _pooled_map(self.local_backbone,
                           patches.view(b * t, c, self.patch_size,
                                        self.patch_size))[1]
        return self._heads(
            self.dropout(feat), self.focus_segments, self.local_fc,
            self.local_aux_fc)

    def loss(self, inputs: Tensor, data_samples: list) -> Dict[str, Tensor]:
        """The authors' loss (module docstring) as ``loss_cls`` (fused),
        ``loss_global`` and ``loss_local`` (auxiliary heads)."""
        glance, focus, views = self._split(inputs)
        labels = torch.cat([s.gt_label.reshape(-1)[:1]
                            for s in data_samples]).to(
                                inputs.device).repeat_interleave(views)
        logits, aux, state = self._glance(glance)
        actions = self.policy(state)
        losses = dict(
            loss_global=F.cross_entropy(aux, labels), loss_cls=0,
            loss_local=0)
        for actions in (torch.rand_like(actions), actions):
            local, local_aux = self._focus(focus, actions)
            losses['loss_cls'] = losses['loss_cls'] + F.cross_entropy(
                logits + local, labels) / 2
            losses['loss_local'] = losses['loss_local'] + F.cross_entropy(
                local_aux, labels) / 2
        return losses

    def _predict_logits(self, inputs: Tensor) -> Tensor:
        glance, focus, views = self._split(inputs)
        logits, _, state = self._glance(glance)
        local, _ = self._focus(focus, self.policy(state))
        return (logits + local).unflatten(0, (-1, views)).mean(1)

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[list] = None,
                mode: str = 'tensor'):
        if mode == 'tensor':
            return self._predict_logits(inputs)
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}".')

    @torch.no_grad()
    def predict(self, inputs: Tensor, data_samples: list) -> list:
        """Class probabilities of the fused logits as ``pred_score``."""
        scores = self._predict_logits(inputs).softmax(-1)
        for sample, score in zip(data_samples, scores):
            sample.set_pred_score(score)
        return data_samples


#: the authors' TSN wrappers -> mmext's parts (the TSNs' replaced last
#: layers are dropouts, without tensors)
_AUTHORS_PARTS = OrderedDict([
    ('global_CNN.base_model', 'global_backbone'),
    ('global_CNN.new_fc', 'global_fc'),
    ('global_CNN.new_new_fc', 'global_aux_fc'),
    ('local_CNN.base_model', 'local_backbone'),
    ('local_CNN.new_fc', 'local_fc'),
    ('local_CNN.new_new_fc', 'local_aux_fc'),
    ('policy_stn', 'policy'),
])


def checkpoint_filter_fn(state_dict: Dict[str, Tensor],
                         model: AdaFocusV2TSM) -> Dict[str, Tensor]:
    """Map an authors' Sth-Sth / Jester checkpoint (``main.py``'s
    ``state_dict``) to ``model``'s keys
    (:func:`~mmext.models.recognizers.adafocus_v2.map_parts`)."""
    return map_parts(state_dict, model, _AUTHORS_PARTS)
