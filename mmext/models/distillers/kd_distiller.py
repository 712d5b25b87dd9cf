"""A distiller: a trainable student, frozen teachers, recorders, losses.

The student is any mmpretrain classifier or mmdet detector; teachers are
built from configs (inline or ``cfg_path``) and loaded from checkpoints.
Outputs of named submodules are captured by forward hooks
(:class:`ModuleOutputsRecorder`) and fed to registered distillation losses
as the config wires them, optionally through connectors (projectors).
"""
import copy
import warnings
from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional, Union

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.runner import load_checkpoint

from mmext.registry import MODELS
from .recorder import ModuleOutputsRecorder

#: ``loss_inputs`` source giving the ground-truth labels of the batch.
GT_LABEL = 'gt_label'
STUDENT = 'student'


def load_model_cfg(cfg: dict) -> dict:
    """The inline model config of ``dict(cfg_path=...)`` (the ``model`` of
    that config file, ``pkg::path`` allowed; other keys override the
    file's), or a copy of an inline ``cfg``."""
    cfg = copy.deepcopy(dict(cfg))
    cfg_path = cfg.pop('cfg_path', None)
    if cfg_path is not None:
        if '::' in cfg_path:
            from mmengine.hub import get_config
            model_cfg = get_config(cfg_path).model
        else:
            model_cfg = Config.fromfile(cfg_path).model
        model_cfg = model_cfg.to_dict() if hasattr(model_cfg, 'to_dict') \
            else dict(model_cfg)
        model_cfg.update(cfg)  # inline keys override the file's
        cfg = model_cfg
    return cfg


def build_model_from_cfg(cfg: dict) -> nn.Module:
    """Build a model from ``dict(cfg_path=...)`` (the ``model`` of that
    config file, ``pkg::path`` allowed) or an inline model config."""
    return MODELS.build(load_model_cfg(cfg))


def extract_student_state_dict(
        state_dict: Mapping[str, torch.Tensor]) -> 'OrderedDict':
    """The student's weights of a distiller ``state_dict``, with the
    ``student.`` prefix removed: loadable into the plain student model."""
    prefix = STUDENT + '.'
    out = OrderedDict(
        (k[len(prefix):], v) for k, v in state_dict.items()
        if k.startswith(prefix))
    if not out:
        raise KeyError('no key starts with "student.": not a distiller '
                       'checkpoint')
    return out


@MODELS.register_module()
class KDDistiller(BaseModel):
    """Train a student against one or more frozen teachers.

    Args:
        student (dict): Student model config, or ``dict(cfg_path=...)``.
        teachers (dict[str, dict]): Teacher name -> ``dict(model=...)`` or
            ``dict(cfg_path=...)``, plus ``teacher_ckpt`` (a checkpoint
            path; ``None`` warns and keeps random weights, e.g. in smoke
            runs). Teachers are frozen, always in eval mode (BN statistics
            untouched) and run under ``torch.no_grad``.
        recorders (dict[str, dict[str, str]]): ``'student'`` or a teacher
            name -> record name -> module path, e.g.
            ``dict(student=dict(logits='head.fc'),
            teacher=dict(logits='head.fc'))``.
        distill_losses (dict[str, dict]): Loss name (should start with
            ``loss``) -> loss config.
        loss_inputs (dict[str, dict]): Loss name -> argument name ->
            source. A source is ``'<owner>.<record>'`` (owner ``student`` or
            a teacher), ``'gt_label'`` (the batch labels, ``(N, )``), or
            ``dict(source='<owner>.<record>', connector='<name>')`` to pass
            the record through a connector. A record that is a tuple/list
            (e.g. backbone outputs) may be indexed: ``'student.feats.0'``.
        connectors (dict[str, dict], optional): Name -> connector config
            (trainable, e.g. :class:`ConvConnector`).
        data_preprocessor (dict, optional): Given to the student when its
            config has none; the distiller uses the student's.
        init_cfg (dict, optional): Unused by the distiller itself; the
            student and connectors initialize themselves.
    """

    def __init__(self,
                 student: dict,
                 teachers: Dict[str, dict],
                 recorders: Dict[str, Dict[str, str]],
                 distill_losses: Dict[str, dict],
                 loss_inputs: Dict[str, Dict[str, Union[str, dict]]],
                 connectors: Optional[Dict[str, dict]] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        student = copy.deepcopy(dict(student))
        if data_preprocessor is not None and 'cfg_path' not in student:
            student.setdefault('data_preprocessor', data_preprocessor)
        student_model = build_model_from_cfg(student)
        super().__init__(
            data_preprocessor=student_model.data_preprocessor,
            init_cfg=init_cfg)
        self.student = student_model
        if not teachers:
            raise ValueError('KDDistiller needs at least one teacher')
        if STUDENT in teachers or GT_LABEL in teachers:
            raise ValueError(f'teacher names {STUDENT!r} and {GT_LABEL!r} '
                             'are reserved')

        self.teachers = nn.ModuleDict()
        for name, tcfg in teachers.items():
            tcfg = copy.deepcopy(dict(tcfg))
            ckpt = tcfg.pop('teacher_ckpt', None)
            if 'model' in tcfg:
                tcfg = dict(tcfg.pop('model'), **tcfg)
            teacher = build_model_from_cfg(tcfg)
            if ckpt is None:
                warnings.warn(f'KDDistiller: teacher {name!r} has no '
                              'teacher_ckpt; it keeps random weights')
                teacher.init_weights()
            else:
                load_checkpoint(teacher, ckpt, map_location='cpu',
                                strict=True)
            # the distiller's init_weights must not re-initialize teachers
            teacher._is_init = True
            for p in teacher.parameters():
                p.requires_grad = False
            teacher.eval()
            self.teachers[name] = teacher

        owners = dict(self.teachers.items(), **{STUDENT: self.student})
        unknown = set(recorders) - set(owners)
        if unknown:
            raise KeyError(f'recorders for unknown models {sorted(unknown)}; '
                           f'models are {sorted(owners)}')
        self.recorders = {
            owner: ModuleOutputsRecorder(owners[owner], sources, owner)
            for owner, sources in recorders.items()
        }

        self.connectors = nn.ModuleDict({
            name: MODELS.build(cfg)
            for name, cfg in (connectors or {}).items()
        })
        self.distill_losses = nn.ModuleDict(
            {name: MODELS.build(cfg)
             for name, cfg in distill_losses.items()})
        if set(loss_inputs) != set(distill_losses):
            raise KeyError('loss_inputs must name the inputs of every '
                           f'distill loss: losses {sorted(distill_losses)}, '
                           f'loss_inputs {sorted(loss_inputs)}')
        self.loss_inputs = copy.deepcopy(dict(loss_inputs))
        for loss_name, args in self.loss_inputs.items():
            for arg, src in args.items():
                self._check_source(f'{loss_name}.{arg}', src)

    def _check_source(self, where: str, src: Union[str, dict]) -> None:
        if isinstance(src, dict):
            if src.get('connector') not in self.connectors:
                raise KeyError(f'loss_inputs {where}: unknown connector '
                               f'{src.get("connector")!r}; connectors are '
                               f'{sorted(self.connectors)}')
            if not isinstance(src.get('source'), str):
                raise ValueError(
                    f'loss_inputs {where}: "source" must be a string '
                    '"<owner>.<record>" (one connector per input), got '
                    f'{src.get("source")!r}')
            src = src['source']
        if src == GT_LABEL:
            return
        owner, _, record = src.partition('.')
        record = record.split('.')[0]
        if owner not in self.recorders or \
                record not in self.recorders[owner].sources:
            raise KeyError(f'loss_inputs {where}: {src!r} names no recorder; '
                           'expected "<owner>.<record>" with owner in '
                           f'{sorted(self.recorders)} or {GT_LABEL!r}')

    def train(self, mode: bool = True) -> 'KDDistiller':
        """Set the train mode of the student and connectors; teachers stay
        in eval mode."""
        super().train(mode)
        for teacher in self.teachers.values():
            teacher.eval()
        return self

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[Any]] = None,
                mode: str = 'tensor') -> Any:
        """``loss``: student losses + distillation losses; ``predict`` and
        ``tensor``: the student alone."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        return self.student(inputs, data_samples, mode=mode)

    def loss(self, inputs: torch.Tensor,
             data_samples: Optional[List[Any]]) -> Dict[str, torch.Tensor]:
        student_rec = self.recorders.get(STUDENT)
        if student_rec is not None:
            student_rec.start()
        try:
            losses = dict(self.student(inputs, data_samples, mode='loss'))
        finally:
            if student_rec is not None:
                student_rec.stop()
        self._forward_teachers(inputs, data_samples)

        for loss_name, loss_fn in self.distill_losses.items():
            if loss_name in losses:
                raise KeyError(f'distill loss {loss_name!r} collides with a '
                               'loss of the student')
            kwargs = {
                arg: self._resolve(src, data_samples, inputs.device)
                for arg, src in self.loss_inputs[loss_name].items()
            }
            losses[loss_name] = loss_fn(**kwargs)
        return losses

    def _forward_teachers(self, inputs: torch.Tensor,
                          data_samples: Optional[List[Any]]) -> None:
        """Run every recorded teacher (``tensor`` mode, ``no_grad``) so that
        its recorders capture the batch; subclasses change what a teacher
        sees (e.g. the student's RoIs)."""
        for name, teacher in self.teachers.items():
            rec = self.recorders.get(name)
            if rec is None:
                continue
            with torch.no_grad(), rec:
                teacher(inputs, data_samples, mode='tensor')

    def _resolve(self, src: Union[str, dict], data_samples: Optional[list],
                 device: torch.device) -> Any:
        if isinstance(src, dict):
            value = self._resolve(src['source'], data_samples, device)
            return self.connectors[src['connector']](value)
        if src == GT_LABEL:
            return torch.cat([
                ds.gt_label.view(-1) for ds in data_samples
            ]).to(device)
        owner, _, path = src.partition('.')
        record, *indices = path.split('.')
        value = self.recorders[owner].get(record)
        for i in indices:
            value = value[int(i)]
        return value

    def student_state_dict(self) -> 'OrderedDict':
        """The student's weights, loadable into the plain student model."""
        return extract_student_state_dict(self.state_dict())
