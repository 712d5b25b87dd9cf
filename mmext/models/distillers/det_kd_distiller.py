"""Distil mmdet detectors, with RoI-level distillation on the student's RoIs.

RoI-level distillation compares, per region, what the teacher's and the
student's RoI heads see and predict. The two only describe the same regions
when they are evaluated on the same RoIs, so the teacher's box branch is run
on the RoIs the student sampled, as in the detection code of mdistiller
(``RCNNKD.forward_pure_roi_head`` in ``detection/model/rcnn.py``, used for
DKD and ReviewKD), whose Detectron2 setup WKD's detection experiments follow.
"""
from typing import Any, List, Optional, Tuple, Union

import torch
from torch import Tensor

from mmext.registry import MODELS
from mmext.utils.validation import check_arg
from .kd_distiller import GT_LABEL, STUDENT, KDDistiller
from .method_recorder import MethodCallRecorder

#: The student's bbox-head method that receives the sampled RoIs and
#: returns their classification targets (StandardRoIHead.bbox_loss).
ROI_TARGETS_METHOD = 'roi_head.bbox_head.loss_and_target'


@MODELS.register_module()
class DetKDDistiller(KDDistiller):
    """:class:`KDDistiller` for mmdet detectors.

    The student is any mmdet ``BaseDetector``: ``loss`` mode returns its
    detection losses plus the distillation losses; ``predict`` and
    ``tensor`` modes run the student alone, so the usual mmdet evaluators
    and ``tools/test.py`` work, and the student exports as with
    :class:`KDDistiller` (``student_state_dict``,
    ``tools/model_converters/strip_teacher.py``). Teachers are frozen, in
    eval mode and run under ``torch.no_grad``. Images are normalized once,
    by the student's data preprocessor: teachers must expect the same
    normalization (true of mmdet's PyTorch-style ResNet detectors).

    With ``share_rois=True`` (two-stage detectors whose ``roi_head`` is a
    ``StandardRoIHead``, e.g. Faster / Mask R-CNN):

    1. the student's ``loss`` runs as usual; its RPN proposes, its sampler
       picks ``R`` RoIs (positives and negatives) and its box branch
       classifies them;
    2. each teacher extracts its own features of the batch (backbone and
       neck) and runs its box branch (``roi_head._bbox_forward``: RoI
       extractor, shared head, bbox head) on **the student's** ``R`` RoIs;
       the teacher's RPN is not run.

    Recorders on the same paths of student and teacher then capture tensors
    whose rows are the same regions, e.g. ``roi_head.bbox_roi_extractor``
    (RoI features ``(R, C, 7, 7)``) or ``roi_head.bbox_head.fc_cls``
    (class logits ``(R, K + 1)``, the last column background); the
    ``'gt_label'`` source of ``loss_inputs`` gives the classification
    targets of those RoIs, ``(R, )`` with ``K`` for background, as the
    student's assigner set them.

    With ``share_rois=False`` teachers run their full ``tensor`` forward (as
    in :class:`KDDistiller`), for feature-level distillation (backbone,
    FPN) or one-stage detectors; ``'gt_label'`` is then unavailable.

    Args:
        share_rois (bool): Run the teachers' box branches on the student's
            sampled RoIs. Defaults to True.
        **kwargs: The arguments of :class:`KDDistiller`.
    """

    def __init__(self, *args, share_rois: bool = True, **kwargs) -> None:
        check_arg(self, 'share_rois', share_rois, bool)
        super().__init__(*args, **kwargs)
        self.share_rois = share_rois
        if not share_rois:
            return
        models = dict(self.teachers.items(), **{STUDENT: self.student})
        for owner, model in models.items():
            roi_head = getattr(model, 'roi_head', None)
            if not (getattr(roi_head, 'with_bbox', False)
                    and hasattr(roi_head, '_bbox_forward')):
                raise TypeError(
                    f'DetKDDistiller(share_rois=True): {owner} '
                    f'({type(model).__name__}) has no roi_head with a bbox '
                    'branch (a two-stage detector with a StandardRoIHead is '
                    'expected); set share_rois=False to distil without '
                    'shared RoIs')
        self.roi_recorder = MethodCallRecorder(
            self.student, dict(targets=ROI_TARGETS_METHOD), STUDENT)

    def loss(self, inputs: Tensor, data_samples: Optional[List[Any]]) -> dict:
        """The student's detection losses plus the distillation losses.

        Args:
            inputs (Tensor): ``(N, 3, H, W)`` preprocessed images.
            data_samples (list[DetDataSample]): Their annotations.
        """
        if not self.share_rois:
            return super().loss(inputs, data_samples)
        # record the student's sampled RoIs while its losses are computed
        with self.roi_recorder:
            return super().loss(inputs, data_samples)

    def student_rois(self) -> Tuple[Tensor, Tensor]:
        """The RoIs sampled in the last student ``loss`` and their labels.

        Returns:
            tuple[Tensor, Tensor]: ``rois (R, 5)`` as ``(batch index, x1,
            y1, x2, y2)`` and ``labels (R, )`` in ``[0, K]``, ``K`` =
            background.
        """
        call = self.roi_recorder.get('targets')
        labels = call.output['bbox_targets'][0]
        return call.args['rois'].detach(), labels.detach()

    def _forward_teachers(self, inputs: Tensor,
                          data_samples: Optional[List[Any]]) -> None:
        if not self.share_rois:
            super()._forward_teachers(inputs, data_samples)
            return
        rois = self.student_rois()[0]
        for name, teacher in self.teachers.items():
            rec = self.recorders.get(name)
            if rec is None:
                continue
            with torch.no_grad(), rec:
                feats = teacher.extract_feat(inputs)
                teacher.roi_head._bbox_forward(feats, rois)

    def _resolve(self, src: Union[str, dict], data_samples: Optional[list],
                 device: torch.device) -> Any:
        if src == GT_LABEL:
            if not self.share_rois:
                raise KeyError(
                    f'loss_inputs source {GT_LABEL!r} is the labels of the '
                    "student's sampled RoIs: it needs share_rois=True")
            return self.student_rois()[1].to(device)
        return super()._resolve(src, data_samples, device)
