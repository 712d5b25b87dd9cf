"""Shared2FC box head trained by the Parameterized AP loss (Tao et al.,
NeurIPS 2021; the authors' ``PAPLossShared2FCBBoxHead``)."""
from typing import Optional, Tuple

from mmdet.models.roi_heads.bbox_heads import Shared2FCBBoxHead
from mmdet.structures.bbox import get_box_tensor
from torch import Tensor

from mmext.registry import MODELS
from mmext.utils.validation import check_arg
from ..losses.parameterized_ap_loss import PAPLoss, QUALITY_MODES
from ..utils.grad_scale import grad_scale


@MODELS.register_module()
class PAPShared2FCBBoxHead(Shared2FCBBoxHead):
    """``Shared2FCBBoxHead`` with ``num_classes`` sigmoid logits (no
    background class) ranked by :class:`PAPLoss` (``loss_cls``, e.g.
    ``dict(type='PAPLoss', preset='rcnn')``) over all RoIs x classes of the
    batch; the quality ``u`` of a positive RoI comes from its decoded box for
    its ground-truth class, and there is no separate box loss (``loss_bbox``
    is not used; ``reg_decoded_bbox`` is always True). The regression output
    passes :func:`grad_scale` with the loss's ``grad_scale``.

    Without ``loss_cls``, the head uses ``PAPLoss`` with the ``rcnn``
    preset. Prediction uses ``sigmoid`` scores with a zero background column, the
    layout mmdet's NMS expects.

    Args:
        reg_input (str): ``'giou'``, ``'iou'`` or ``'l1'``.
    """

    def __init__(self, *args, reg_input: str = 'giou', **kwargs) -> None:
        check_arg(self, 'reg_input', reg_input, choices=QUALITY_MODES)
        if not kwargs.pop('reg_decoded_bbox', True):
            raise ValueError('PAPShared2FCBBoxHead compares decoded boxes: '
                             'reg_decoded_bbox must be True')
        loss_cls = dict(
            kwargs.pop('loss_cls', dict(type='PAPLoss', preset='rcnn')))
        loss_cls.setdefault('use_sigmoid', True)
        super().__init__(
            *args, reg_decoded_bbox=True, loss_cls=loss_cls, **kwargs)
        if not isinstance(self.loss_cls, PAPLoss):
            raise TypeError('PAPShared2FCBBoxHead: loss_cls must be a '
                            f'PAPLoss, got {type(self.loss_cls).__name__}')
        self.reg_input = reg_input

    @property
    def custom_cls_channels(self) -> bool:
        """``num_classes`` logits, scores by ``loss_cls.get_activation``."""
        return True

    @property
    def custom_activation(self) -> bool:
        """Scores by ``loss_cls.get_activation``."""
        return True

    def forward(self, x: Tuple[Tensor]) -> tuple:
        """RoI features ``(n, C, 7, 7)`` -> logits ``(n, num_classes)``,
        deltas ``(n, 4 * num_classes)`` (or ``(n, 4)``; gradient scaled)."""
        cls_score, bbox_pred = super().forward(x)
        return cls_score, grad_scale(bbox_pred, self.loss_cls.grad_scale)

    def loss(self,
             cls_score: Tensor,
             bbox_pred: Tensor,
             rois: Tensor,
             labels: Tensor,
             label_weights: Tensor,
             bbox_targets: Tensor,
             bbox_weights: Tensor,
             reduction_override: Optional[str] = None) -> dict:
        """One ranking over the batch's RoIs.

        Args:
            cls_score (Tensor): ``(n, num_classes)`` logits.
            bbox_pred (Tensor): ``(n, 4 * num_classes)`` or ``(n, 4)``.
            rois (Tensor): ``(n, 5)`` (batch index, box).
            labels, label_weights (Tensor): ``(n, )``, background =
                ``num_classes``.
            bbox_targets (Tensor): ``(n, 4)`` ground-truth boxes.
            bbox_weights (Tensor): Unused (positives come from ``labels``).
            reduction_override (str, optional): Unused.

        Returns:
            dict: ``{'loss_pap': loss}``.
        """
        pos = ((labels >= 0) & (labels < self.num_classes) &
               (label_weights > 0)).nonzero()[:, 0]
        if self.reg_class_agnostic:
            deltas = bbox_pred.view(bbox_pred.size(0), -1)[pos]
        else:
            deltas = bbox_pred.view(bbox_pred.size(0), self.num_classes,
                                    -1)[pos, labels[pos]]
        priors = rois[pos, 1:]
        pred = get_box_tensor(self.bbox_coder.decode(priors, deltas))
        loss = self.loss_cls.loss_by_boxes(cls_score, labels, label_weights,
                                           pos, pred, bbox_targets[pos],
                                           priors, self.reg_input)
        return dict(loss_pap=loss)
