"""RISA, the assessor: a shared style extractor on the generated and the
reference image, the L1 difference of their features into K binary
classifiers, score = the mean of their probabilities (Guo et al., AAAI
2022, Sec. 3)."""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel, BaseModule
from mmengine.registry import MODELS
from torch import Tensor

from mmext.utils import check_arg
from .generator import channel_stats, conv_stack


@MODELS.register_module()
class RISAStyleExtractor(BaseModule):
    """Convolutions without normalisation; the feature is the channel means
    and standard deviations of every stage (the statistics AdaIN treats as
    style): ``(N, 3, H, W) -> (N, 2 * sum(channels))``.

    Args:
        channels (Sequence[int]): Stages (stride 2 after the first).
            Defaults to (32, 64, 128).
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 channels: Sequence[int] = (32, 64, 128),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        check_arg(self, 'channels', channels, (list, tuple))
        self.convs = conv_stack(channels, None)
        self.out_channels = 2 * sum(channels)

    def forward(self, x: Tensor) -> Tensor:
        feats = []
        for conv in self.convs:
            x = conv(x)
            feats += channel_stats(x)
        return torch.cat(feats, dim=1)


def augment_views(x: Tensor, flip: bool, rot90: bool,
                  crop_scale: Tuple[float, float]) -> Tensor:
    """A random view of each image that keeps its style: horizontal flip,
    rotation by a multiple of 90 degrees and a crop of a random fraction
    ``crop_scale`` of the area, resized back (all with torch's global
    generator, which the runner seeds).

    Shapes: ``(N, 3, H, W) -> (N, 3, H, W)``.
    """
    n, _, h, w = x.shape
    views = []
    for img in x:
        if flip and torch.rand(()) < 0.5:
            img = img.flip(-1)
        if rot90:
            img = img.rot90(int(torch.randint(4, ())), (-2, -1))
        scale = math.sqrt(crop_scale[0] + float(torch.rand(())) *
                          (crop_scale[1] - crop_scale[0]))
        ch, cw = max(1, round(h * scale)), max(1, round(w * scale))
        top = int(torch.randint(h - ch + 1, ()))
        left = int(torch.randint(w - cw + 1, ()))
        crop = img[None, :, top:top + ch, left:left + cw]
        views.append(
            F.interpolate(crop, (h, w), mode='bilinear', align_corners=False))
    return torch.cat(views)


@MODELS.register_module()
class RISAssessor(BaseModel):
    """RISA: quality of a generated image given its reference.

    ``d = |E(generated) - E(reference)|`` (E: the shared style extractor);
    classifier ``k`` (an MLP) gives ``p_k = P(quality > thresholds[k] | d)``
    and the score is ``mean_k p_k`` in ``[0, 1]``. Training
    (``mode='loss'``):

    - ``loss_cls``: binary cross-entropy of every classifier against
      ``1[label > thresholds[k]]`` (labels: normalised training
      iterations, refined by interpolation);
    - ``loss_contrastive``: the unsupervised contrastive style loss
      (:class:`mmext.models.losses.StyleContrastiveLoss`) between
      ``E(reference)`` and ``E(augmented reference)``, over the distinct
      references of the batch (``ref_id``).

    Args:
        extractor (dict): Config of the style extractor (has
            ``out_channels``). Defaults to ``RISAStyleExtractor``.
        num_classifiers (int): ``K`` (not given in the paper). Defaults
            to 8.
        thresholds (Sequence[float], optional): The ``K`` increasing
            thresholds; defaults to ``k / (K + 1)``, ``k = 1..K`` (uniform
            over the label range ``(0, 1]``).
        hidden_dim (int): Hidden width of each classifier. Defaults to 64.
        contrastive_loss (dict, optional): Config of the contrastive loss;
            None disables it. Defaults to ``StyleContrastiveLoss`` with
            temperature 0.1 and weight 0.1.
        augment (dict): Keyword arguments of :func:`augment_views` for the
            contrastive views. Defaults to flips, 90-degree rotations and
            crops of 50-100 % of the area.
        data_preprocessor (dict, optional): Defaults to mmengine's.
        init_cfg (dict, optional): Initialisation config.

    Shapes:
        - generated, reference: ``(N, 3, H, W)`` in ``[0, 1]``
        - label: ``(N, )`` qualities in ``[0, 1]``; ref_id, group: ``(N, )``
        - output (``mode='tensor'``): ``(N, )`` scores
    """

    def __init__(self,
                 extractor: dict = dict(type='RISAStyleExtractor'),
                 num_classifiers: int = 8,
                 thresholds: Optional[Sequence[float]] = None,
                 hidden_dim: int = 64,
                 contrastive_loss: Optional[dict] = dict(
                     type='StyleContrastiveLoss',
                     temperature=0.1,
                     loss_weight=0.1),
                 augment: dict = dict(flip=True,
                                      rot90=True,
                                      crop_scale=(0.5, 1.0)),
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        check_arg(self, 'extractor', extractor, dict)
        check_arg(self, 'num_classifiers', num_classifiers, int, low=1)
        check_arg(self, 'hidden_dim', hidden_dim, int, low=1)
        check_arg(self, 'contrastive_loss', contrastive_loss, dict,
                  allow_none=True)
        check_arg(self, 'augment', augment, dict)
        if thresholds is None:
            thresholds = [(k + 1) / (num_classifiers + 1)
                          for k in range(num_classifiers)]
        check_arg(self, 'thresholds', thresholds, (list, tuple))
        if len(thresholds) != num_classifiers or any(
                b <= a for a, b in zip(thresholds[:-1], thresholds[1:])):
            raise ValueError(
                f'{type(self).__name__}: thresholds must be '
                f'{num_classifiers} increasing numbers, got {thresholds!r}')
        self.register_buffer('thresholds',
                             torch.tensor(thresholds, dtype=torch.float32))
        self.extractor = MODELS.build(extractor)
        self.classifiers = nn.ModuleList(
            nn.Sequential(
                nn.Linear(self.extractor.out_channels, hidden_dim),
                nn.ReLU(), nn.Linear(hidden_dim, 1))
            for _ in range(num_classifiers))
        self.contrastive_loss = None if contrastive_loss is None else \
            MODELS.build(contrastive_loss)
        self.augment = augment

    def logits(self, generated: Tensor, reference: Tensor) -> Tensor:
        """``(N, K)`` logits of the binary classifiers."""
        diff = (self.extractor(generated) - self.extractor(reference)).abs()
        return torch.cat([c(diff) for c in self.classifiers], dim=1)

    def forward(self,
                generated: Tensor,
                reference: Tensor,
                label: Optional[Tensor] = None,
                ref_id: Optional[Tensor] = None,
                group: Optional[Tensor] = None,
                mode: str = 'tensor') -> Union[Tensor, Dict[str, Tensor],
                                               List[dict]]:
        if mode == 'loss':
            return self.loss(generated, reference, label, ref_id)
        scores = self.logits(generated, reference).sigmoid().mean(1)
        if mode == 'tensor':
            return scores
        if mode == 'predict':
            groups = torch.zeros_like(scores) if group is None else group
            return [
                dict(pred_score=float(s), gt_score=float(g), group=int(k))
                for s, g, k in zip(scores, label, groups)
            ]
        raise ValueError(f'{type(self).__name__}: unknown mode {mode!r} '
                         "(expected 'tensor', 'loss' or 'predict')")

    def loss(self, generated: Tensor, reference: Tensor, label: Tensor,
             ref_id: Tensor) -> Dict[str, Tensor]:
        """Classifier and contrastive losses of a batch."""
        targets = (label[:, None] > self.thresholds).float()
        losses = dict(loss_cls=F.binary_cross_entropy_with_logits(
            self.logits(generated, reference), targets))
        if self.contrastive_loss is not None:
            # one view per distinct reference: a duplicate would be its own
            # negative
            first = {int(r): i for i, r in reversed(list(enumerate(ref_id)))}
            refs = reference[sorted(first.values())]
            if len(refs) >= 2:
                losses['loss_contrastive'] = self.contrastive_loss(
                    self.extractor(refs),
                    self.extractor(augment_views(refs, **self.augment)))
        return losses
