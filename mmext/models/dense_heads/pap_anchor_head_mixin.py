"""What the Parameterized AP loss changes in mmdet's anchor heads."""
from typing import List, Optional, Tuple

import torch
from mmdet.structures.bbox import cat_boxes, get_box_tensor
from mmdet.utils import InstanceList, OptInstanceList
from torch import Tensor

from mmext.utils.validation import check_arg
from ..losses.parameterized_ap_loss import PAPLoss, QUALITY_MODES
from ..utils.grad_scale import grad_scale


class PAPAnchorHeadMixin:
    """Put before an mmdet ``AnchorHead`` subclass (``RetinaHead``,
    ``RPNHead``) whose ``loss_cls`` is :class:`PAPLoss`.

    - The regression output passes :func:`grad_scale` with the loss's
      ``grad_scale`` (identity forward, scaled backward).
    - ``loss_by_feat`` ranks all anchors x classes of all images and levels
      in one :class:`PAPLoss`, with the quality of each positive anchor's
      decoded box (``reg_input``); there is no separate box loss
      (``loss_bbox`` is not used), so ``reg_decoded_bbox`` is always True.

    Without ``loss_cls``, the head uses ``PAPLoss`` with its
    ``default_preset``.

    Args:
        reg_input (str): ``'giou'``, ``'iou'`` or ``'l1'``, see
            :func:`mmext.models.losses.parameterized_ap_loss.
            localization_quality`.
    """

    #: key of the loss in the returned dict
    loss_key = 'loss_pap'
    #: ``PAPLoss`` preset when no ``loss_cls`` is given
    default_preset = 'retinanet'

    def __init__(self, *args, reg_input: str = 'giou', **kwargs) -> None:
        check_arg(self, 'reg_input', reg_input, choices=QUALITY_MODES)
        if not kwargs.pop('reg_decoded_bbox', True):
            raise ValueError(f'{type(self).__name__} compares decoded boxes: '
                             'reg_decoded_bbox must be True')
        # mmdet sizes the classifier by loss_cls.use_sigmoid: C logits
        loss_cls = dict(
            kwargs.pop('loss_cls',
                       dict(type='PAPLoss', preset=self.default_preset)))
        loss_cls.setdefault('use_sigmoid', True)
        super().__init__(
            *args, reg_decoded_bbox=True, loss_cls=loss_cls, **kwargs)
        if not isinstance(self.loss_cls, PAPLoss):
            raise TypeError(f'{type(self).__name__}: loss_cls must be a '
                            f'PAPLoss, got {type(self.loss_cls).__name__}')
        self.reg_input = reg_input

    def forward_single(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """``(B, C_in, H, W)`` -> scores ``(B, A * num_classes, H, W)``,
        deltas ``(B, A * 4, H, W)`` (gradient scaled)."""
        cls_score, bbox_pred = super().forward_single(x)
        return cls_score, grad_scale(bbox_pred, self.loss_cls.grad_scale)

    def loss_by_feat(
            self,
            cls_scores: List[Tensor],
            bbox_preds: List[Tensor],
            batch_gt_instances: InstanceList,
            batch_img_metas: List[dict],
            batch_gt_instances_ignore: OptInstanceList = None) -> dict:
        """One ranking over the batch.

        Args:
            cls_scores (list[Tensor]): Per level ``(B, A * C, H, W)``.
            bbox_preds (list[Tensor]): Per level ``(B, A * 4, H, W)``.
            batch_gt_instances (list[InstanceData]): ``bboxes``, ``labels``.
            batch_img_metas (list[dict]): Image meta information.
            batch_gt_instances_ignore (list[InstanceData], optional):
                Ignored boxes.

        Returns:
            dict: ``{loss_key: loss}``.
        """
        num_imgs = len(batch_img_metas)
        featmap_sizes = [featmap.size()[-2:] for featmap in cls_scores]
        anchor_list, valid_flag_list = self.get_anchors(
            featmap_sizes, batch_img_metas, device=cls_scores[0].device)
        labels_list, weights_list, targets_list, _, _ = self.get_targets(
            anchor_list,
            valid_flag_list,
            batch_gt_instances,
            batch_img_metas,
            batch_gt_instances_ignore=batch_gt_instances_ignore)

        def flat(maps: List[Tensor], width: int) -> Tensor:
            # (B, A * width, H, W) per level -> (B * sum(H W A), width)
            return torch.cat([
                m.permute(0, 2, 3, 1).reshape(num_imgs, -1, width)
                for m in maps
            ], 1).reshape(-1, width)

        logits = flat(cls_scores, self.cls_out_channels)
        deltas = flat(bbox_preds, self.bbox_coder.encode_size)
        labels = torch.cat(labels_list, 1).reshape(-1)
        weights = torch.cat(weights_list, 1).reshape(-1)
        targets = torch.cat(targets_list, 1).reshape(-1, 4)
        anchors = torch.cat(
            [get_box_tensor(cat_boxes(a)) for a in anchor_list])
        pos = ((labels < self.num_classes) & (weights > 0)).nonzero()[:, 0]
        pred = get_box_tensor(self.bbox_coder.decode(anchors[pos],
                                                     deltas[pos]))
        loss = self.loss_cls.loss_by_boxes(logits, labels, weights, pos, pred,
                                           targets[pos], anchors[pos],
                                           self.reg_input)
        return {self.loss_key: loss}
