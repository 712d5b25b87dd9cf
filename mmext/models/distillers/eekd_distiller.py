"""Experience ensemble knowledge distillation (EEKD), and distillation from
a standard ensemble of independently trained teachers.

`Learn From the Past: Experience Ensemble Knowledge Distillation
<https://arxiv.org/abs/2202.12488>`_ (Wang et al., 2022). The teacher is an
ensemble of ``M`` intermediate models of one teacher's training (saved by
:class:`~mmext.engine.hooks.SnapshotHook`); a self-attention module
(:class:`EnsembleAttention`), trained with the student, weights their
softened outputs per sample; the student minimizes
``alpha * CE + (1 - alpha) * tau^2 * KL(p_E || p_S)``.
"""
import copy
import glob
import os.path as osp
import re
from typing import Any, Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log

from mmext.registry import MODELS
from mmext.utils.snapshots import SNAPSHOT_GLOB
from mmext.utils.validation import check_arg
from .kd_distiller import STUDENT, KDDistiller

#: Key prefix of the logged mean attention weight of each ensemble member.
WEIGHT_LOG_KEY = 'eekd_weight_'


def _natural_key(path: str) -> list:
    """Sort key that orders ``snapshot_epoch_96`` before
    ``snapshot_epoch_144``."""
    return [
        int(t) if t.isdigit() else t
        for t in re.split(r'(\d+)', osp.basename(path))
    ]


def resolve_checkpoints(spec: Union[str, Sequence[str]]) -> List[str]:
    """The checkpoint files named by ``spec``.

    Args:
        spec (str | Sequence[str]): A list of checkpoint paths (kept in
            order), a directory (its :class:`SnapshotHook` snapshots,
            ``snapshot_*.pth``), a glob pattern, or one path. Matches of a
            directory or pattern are sorted by the numbers in their names
            (training order for snapshots).

    Returns:
        list[str]: The paths.

    Raises:
        FileNotFoundError: Nothing matches, or a local path does not exist.
        TypeError: ``spec`` is neither a string nor a list of strings.
    """
    if isinstance(spec, str):
        if osp.isdir(spec):
            paths = glob.glob(osp.join(spec, SNAPSHOT_GLOB))
            what = f'directory {spec!r} has no {SNAPSHOT_GLOB} file'
        elif glob.has_magic(spec):
            paths = glob.glob(spec)
            what = f'pattern {spec!r} matches no file'
        else:
            paths, what = [spec], ''
        if not paths:
            raise FileNotFoundError(f'teacher_ckpts: {what}')
        paths = sorted(paths, key=_natural_key)
    elif isinstance(spec, (list, tuple)) and spec and all(
            isinstance(p, str) for p in spec):
        paths = list(spec)
    else:
        raise TypeError('teacher_ckpts must be a path, a directory, a glob '
                        f'pattern or a non-empty list of paths, got {spec!r}')
    for p in paths:
        if '://' not in p and not osp.isfile(p):
            raise FileNotFoundError(
                f'teacher_ckpts: checkpoint {p!r} does not exist')
    return paths


def _drop_members(module: nn.Module, state_dict: dict, prefix: str,
                  local_metadata: dict) -> None:
    """``state_dict`` post-hook: leave the ensemble members out."""
    for key in [k for k in state_dict if k.startswith(prefix + 'teachers.')]:
        del state_dict[key]


def _keep_members(module: nn.Module, state_dict: dict, prefix: str,
                  *args) -> None:
    """``load_state_dict`` pre-hook: members missing from ``state_dict``
    keep the weights loaded from ``teacher_ckpts``."""
    members = module.teachers.state_dict(prefix=prefix + 'teachers.')
    for key, value in members.items():
        state_dict.setdefault(key, value)


def _last(record: Any) -> torch.Tensor:
    """A recorded output, or its last element for a tuple (e.g. necks)."""
    return record[-1] if isinstance(record, (tuple, list)) else record


@MODELS.register_module()
class EEKDDistiller(KDDistiller):
    """Distil a student from an ensemble of teachers of one architecture.

    The ensemble members are the checkpoints ``teacher_ckpts`` loaded into
    ``teacher``, named ``teacher0`` ... ``teacher{M-1}`` in order. With
    ``attention`` (EEKD), per-sample weights come from the attention module
    over the student's and the teachers' ``feature_module`` outputs, and the
    batch mean of each member's weight is returned among the losses as
    ``eekd_weight_{m}`` (logged, not added to the loss). With
    ``attention=None`` the members are averaged uniformly (the standard
    ensemble of independently trained teachers).

    The student's own losses (its head's CE, weight ``alpha`` in its config)
    and ``ensemble_loss`` (weight ``1 - alpha``) are returned; teachers are
    frozen, in eval mode and run under ``no_grad`` (:class:`KDDistiller`).
    Unlike :class:`KDDistiller`, the ``state_dict`` (so every training
    checkpoint) leaves the members out: they are loaded from
    ``teacher_ckpts`` when the distiller is built, and loading a state dict
    without them keeps those weights.

    Args:
        student (dict): Student model config, or ``dict(cfg_path=...)``.
        teacher (dict): Config of every member: ``dict(model=...)``,
            ``dict(cfg_path=...)`` or an inline model config.
        teacher_ckpts (str | list[str], optional): The members' checkpoints:
            a list, a directory of :class:`SnapshotHook` snapshots, or a glob
            pattern (see :func:`resolve_checkpoints`). ``None`` builds
            ``num_teachers`` randomly initialized members with a warning
            (smoke runs).
        num_teachers (int, optional): Expected number of members ``M``;
            required when ``teacher_ckpts`` is ``None``, checked otherwise.
        attention (dict, optional): Config of the weighting module, e.g.
            :class:`EnsembleAttention`; ``None`` for uniform weights.
        ensemble_loss (dict): Config of the loss taking
            ``(preds_S, preds_T, weights)``. Defaults to
            :class:`EnsembleKDLoss` with EEKD's ``tau = 5`` and weight
            ``1 - alpha = 0.5``.
        logits_module (str): Path of the logits layer in the student and
            the teachers. Defaults to ``'head.fc'``.
        feature_module (str): Path of the module whose output (the last
            element of a tuple) is the feature given to ``attention``.
            Defaults to ``'neck'`` (pooled features of a classifier).
        data_preprocessor (dict, optional): See :class:`KDDistiller`.
        init_cfg (dict, optional): See :class:`KDDistiller`.
    """

    def __init__(self,
                 student: dict,
                 teacher: dict,
                 teacher_ckpts: Optional[Union[str, Sequence[str]]] = None,
                 num_teachers: Optional[int] = None,
                 attention: Optional[dict] = None,
                 ensemble_loss: dict = dict(
                     type='EnsembleKDLoss', tau=5.0, loss_weight=0.5),
                 logits_module: str = 'head.fc',
                 feature_module: str = 'neck',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        check_arg(self, 'num_teachers', num_teachers, int, low=1,
                  allow_none=True)
        if teacher_ckpts is None:
            if num_teachers is None:
                raise ValueError('EEKDDistiller needs teacher_ckpts or, '
                                 'without checkpoints, num_teachers')
            ckpts: List[Optional[str]] = [None] * num_teachers
        else:
            ckpts = list(resolve_checkpoints(teacher_ckpts))
            if num_teachers is not None and len(ckpts) != num_teachers:
                raise ValueError(
                    f'teacher_ckpts: expected num_teachers={num_teachers} '
                    f'checkpoints, found {len(ckpts)}: {ckpts}')
        teacher = copy.deepcopy(dict(teacher))
        if 'teacher_ckpt' in teacher:
            raise KeyError('EEKDDistiller: give the checkpoints as '
                           'teacher_ckpts, not teacher.teacher_ckpt')
        teachers = {
            f'teacher{i}': dict(teacher, teacher_ckpt=ckpt)
            for i, ckpt in enumerate(ckpts)
        }
        records = dict(logits=logits_module)
        if attention is not None:
            records['feat'] = feature_module
        recorders = {name: records for name in [STUDENT, *teachers]}
        super().__init__(
            student=student,
            teachers=teachers,
            recorders=recorders,
            distill_losses={},
            loss_inputs={},
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.teacher_ckpts = ckpts
        self.attention = None if attention is None else MODELS.build(
            attention)
        self.ensemble_loss = MODELS.build(ensemble_loss)
        # M copies of the teacher would multiply the size of every training
        # checkpoint; the members are rebuilt from teacher_ckpts instead
        self.register_state_dict_post_hook(_drop_members)
        self.register_load_state_dict_pre_hook(_keep_members)
        print_log(
            'EEKDDistiller: ensemble of ' + ', '.join(
                f'{name} <- {ckpt}' for name, ckpt in zip(teachers, ckpts)) +
            (' with attention weights' if self.attention is not None else
             ' with uniform weights'),
            logger='current')

    def ensemble_weights(self) -> Optional[torch.Tensor]:
        """``(N, M)`` weights of the members for the last recorded batch,
        or ``None`` in uniform mode."""
        if self.attention is None:
            return None
        feats_T = torch.stack(
            [_last(self.recorders[n].get('feat')) for n in self.teachers], 1)
        return self.attention(_last(self.recorders[STUDENT].get('feat')),
                              feats_T)

    def loss(self, inputs: torch.Tensor,
             data_samples: Optional[List[Any]]) -> Dict[str, torch.Tensor]:
        """The student's losses, ``loss_eekd`` and, with attention,
        ``eekd_weight_{m}`` (the batch mean weight of member ``m``)."""
        losses = super().loss(inputs, data_samples)
        preds_S = _last(self.recorders[STUDENT].get('logits'))
        preds_T = torch.stack(
            [_last(self.recorders[n].get('logits')) for n in self.teachers],
            1)
        weights = self.ensemble_weights()
        if weights is not None:
            for m, w in enumerate(weights.detach().mean(0)):
                losses[f'{WEIGHT_LOG_KEY}{m}'] = w
        losses['loss_eekd'] = self.ensemble_loss(preds_S, preds_T, weights)
        return losses
