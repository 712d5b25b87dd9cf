"""Backbone + neck + episode head, trained on episodes (mmfewshot's
``MetaMetricBaseClassifier``; Meta DeepBDC, ProtoNet, TAMT's fine-tuning).

A batch is one or more episodes from :class:`~mmext.datasets.EpisodicDataset`
(flattened by ``episode_collate``): each sample carries its episode label as
``gt_label`` and ``episode_support`` / ``episode_idx`` in its metainfo. The
loss is the head's episode loss (e.g. cross-entropy over prototype scores)
averaged over the episodes of the batch.
"""
from collections import OrderedDict
from typing import Dict, List, Optional

import torch
from mmpretrain.models.classifiers.base import BaseClassifier
from mmpretrain.structures import DataSample

from mmext.datasets.episodic import EPISODE_KEY, SUPPORT_KEY
from mmext.registry import MODELS
from mmext.utils.validation import check_arg

__all__ = ['EpisodicClassifier']


@MODELS.register_module()
class EpisodicClassifier(BaseClassifier):
    """Few-shot classifier trained and evaluated on episodes.

    Args:
        backbone (dict): Backbone config.
        neck (dict, optional): Neck giving ``(B, D)`` features (e.g.
            ``BDCPooling``, ``GlobalAveragePooling``).
        head (dict): Episode head with ``loss`` and ``predict_episode``
            (``PrototypeHead``).
        data_preprocessor (dict, optional): Defaults to mmpretrain's
            ``ClsDataPreprocessor``.
        init_cfg (dict, optional): Initialisation config.

    Shapes:
        - inputs: ``(B, 3, H, W)`` images or ``(B, 3, T, H, W)`` clips,
          ``B = episodes * N * (K + Q)``; mmaction2's
          ``ActionDataPreprocessor`` gives ``(B, V, 3, T, H, W)`` with ``V``
          views (clips x crops) per video, whose features are averaged.
        - extract_feat: ``(B, D)``
    """

    def __init__(self,
                 backbone: dict,
                 neck: Optional[dict] = None,
                 head: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        check_arg(self, 'backbone', backbone, dict)
        check_arg(self, 'neck', neck, dict, allow_none=True)
        check_arg(self, 'head', head, dict, allow_none=True)
        data_preprocessor = dict(data_preprocessor or {})
        data_preprocessor.setdefault('type', 'mmpretrain.ClsDataPreprocessor')
        super().__init__(
            init_cfg=init_cfg, data_preprocessor=data_preprocessor)
        self.backbone = MODELS.build(backbone)
        if neck is not None:
            self.neck = MODELS.build(neck)
        self.head = MODELS.build(head or dict(type='PrototypeHead'))

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """``(B, D)`` episode features."""
        if inputs.dim() == 6:  # (B, V, 3, T, H, W) views of videos
            b, v = inputs.shape[:2]
            return self.extract_feat(inputs.flatten(0, 1)).view(b, v,
                                                                -1).mean(1)
        x = self.backbone(inputs)
        if self.with_neck:
            x = self.neck(x)
        if isinstance(x, (tuple, list)):
            x = x[-1]
        return x.flatten(1)

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        if mode == 'tensor':
            return self.extract_feat(inputs)
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}".')

    @staticmethod
    def _episodes(data_samples: List[DataSample]) -> Dict[int, tuple]:
        """``{episode: (support indices, query indices)}`` of a batch."""
        groups = OrderedDict()
        for i, s in enumerate(data_samples):
            if SUPPORT_KEY not in s.metainfo:
                raise ValueError(
                    'EpisodicClassifier: samples carry no episode fields; '
                    "the dataloader's dataset must be an EpisodicDataset "
                    "with collate_fn=dict(type='episode_collate')")
            sup, qry = groups.setdefault(s.metainfo[EPISODE_KEY], ([], []))
            (sup if s.metainfo[SUPPORT_KEY] else qry).append(i)
        return groups

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> dict:
        feats = self.extract_feat(inputs)
        labels = torch.cat([s.gt_label for s in data_samples]).to(
            feats.device)
        losses = []
        for sup, qry in self._episodes(data_samples).values():
            losses.append(
                self.head.loss(feats[sup], labels[sup], feats[qry],
                               labels[qry]))
        return {
            k: torch.stack([d[k] for d in losses]).mean()
            for k in losses[0]
        }

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor,
                data_samples: List[DataSample]) -> List[DataSample]:
        """Query samples of every episode with ``pred_score`` ``(N, )``."""
        feats = self.extract_feat(inputs)
        labels = torch.cat([s.gt_label for s in data_samples]).to(
            feats.device)
        out = []
        for sup, qry in self._episodes(data_samples).values():
            scores = self.head.predict_episode(feats[sup], labels[sup],
                                               feats[qry])
            for i, score in zip(qry, scores.softmax(-1)):
                out.append(data_samples[i].set_pred_score(score))
        return out
