"""Box heads laid out as py-faster-rcnn's Caffe models (used by MLKP): the
class-specific regression layer also holds the background class's deltas
(``bbox_pred`` has ``4 * (num_classes + 1)`` outputs; 84 for PASCAL VOC),
and the VGG16 head drops out after fc6 and fc7."""
from typing import Tuple

import torch.nn as nn
import torch.nn.functional as F
from mmdet.models.roi_heads.bbox_heads import BBoxHead, Shared2FCBBoxHead
from torch import Tensor

from mmext.registry import MODELS
from mmext.utils.validation import check_arg


def _check_reg_class_agnostic(head, kwargs: dict) -> None:
    value = kwargs.get('reg_class_agnostic', False)
    check_arg(head, 'reg_class_agnostic', value, bool)
    if value:
        raise ValueError(f'{type(head).__name__}: class-specific regression '
                         'is required (reg_class_agnostic must be False)')


class _BackgroundDeltasMixin:
    """Widen ``fc_reg`` by one class (the background, last, like mmdet's
    classifier) and drop those deltas in ``forward``; mmdet's losses and
    decoding see the usual ``4 * num_classes`` columns. py-faster-rcnn never
    uses the background deltas either (their targets have zero weight), but
    they are in its checkpoints and parameter counts."""

    def _add_background_deltas(self) -> None:
        if not self.with_reg:
            return
        box_dim = self.bbox_coder.encode_size
        self.fc_reg = nn.Linear(self.fc_reg.in_features,
                                box_dim * (self.num_classes + 1))

    def _drop_background_deltas(self, bbox_pred: Tensor) -> Tensor:
        if bbox_pred is None:
            return None
        # contiguous: mmdet's prediction views the deltas as (-1, 4)
        return bbox_pred[:, :self.bbox_coder.encode_size *
                         self.num_classes].contiguous()


@MODELS.register_module()
class PyFasterRCNNBBoxHead(_BackgroundDeltasMixin, BBoxHead):
    """:class:`BBoxHead` (average pooling of the RoI map, e.g. after the
    res5 shared head of a C4 ResNet, then ``fc_cls`` and ``fc_reg``) with
    the background deltas of py-faster-rcnn.

    Input ``(n, in_channels, roi_feat_size, roi_feat_size)``; outputs
    ``(n, num_classes + 1)`` scores and ``(n, 4 * num_classes)`` deltas.
    """

    def __init__(self, *args, **kwargs) -> None:
        _check_reg_class_agnostic(self, kwargs)
        super().__init__(*args, **kwargs)
        self._add_background_deltas()

    def forward(self, x: Tensor) -> tuple:
        cls_score, bbox_pred = super().forward(x)
        return cls_score, self._drop_background_deltas(bbox_pred)


@MODELS.register_module()
class PyFasterRCNNShared2FCBBoxHead(_BackgroundDeltasMixin,
                                   Shared2FCBBoxHead):
    """:class:`Shared2FCBBoxHead` (fc6, fc7 with ReLU) with dropout after
    each fc and the background deltas of py-faster-rcnn (VGG16: RoI pooling
    7 x 7 x 512 -> 4096 -> 4096).

    Input ``(n, in_channels, roi_feat_size, roi_feat_size)``; outputs
    ``(n, num_classes + 1)`` scores and ``(n, 4 * num_classes)`` deltas.

    Args:
        dropout_ratio: Dropout probability after fc6 and fc7 (0.5 in
            py-faster-rcnn; 0 disables it).
    """

    def __init__(self, *args, dropout_ratio: float = 0.5, **kwargs) -> None:
        check_arg(self, 'dropout_ratio', dropout_ratio, float, low=0,
                  high=1)
        _check_reg_class_agnostic(self, kwargs)
        super().__init__(*args, **kwargs)
        self.dropout_ratio = dropout_ratio
        self._add_background_deltas()

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        x = x.flatten(1)
        for fc in self.shared_fcs:
            x = F.dropout(
                self.relu(fc(x)), self.dropout_ratio, self.training)
        cls_score = self.fc_cls(x) if self.with_cls else None
        bbox_pred = self.fc_reg(x) if self.with_reg else None
        return cls_score, self._drop_background_deltas(bbox_pred)
