"""Export the student of a distiller at the end of training, for deployment.

A distillation training checkpoint holds the student, the frozen teachers,
connectors and optimizer state; only the student is deployed. This hook
writes the student alone when training ends, in the layout that
``tools/model_converters/strip_teacher.py`` produces from a training
checkpoint, so that it loads into the plain student config.
"""
import time
from typing import Optional

from mmengine.dist import master_only
from mmengine.fileio import join_path
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner.checkpoint import save_checkpoint, weights_to_cpu

from mmext.models.distillers import KDDistiller
from mmext.registry import HOOKS


@HOOKS.register_module()
class StudentExportHook(Hook):
    """Save the student of a distiller when training ends.

    Works with every :class:`~mmext.models.distillers.KDDistiller`
    (including ``DetKDDistiller`` and ``EEKDDistiller``): the student's
    weights (``student.`` prefix removed, see
    :func:`~mmext.models.distillers.extract_student_state_dict`) are
    written with mmengine's ``save_checkpoint`` (through the file backend;
    atomic on local disk, see :mod:`mmext.utils.compat`) as
    ``{'state_dict': ..., 'meta': ...}``. The file loads with
    ``load_checkpoint(model, path, strict=True)`` into the plain student
    model, or with ``load_from`` / ``tools/test.py`` and the student's
    config. ``meta`` holds the epoch, iteration, experiment name, time and,
    when the training set has one, ``dataset_meta`` (class names for
    inference). The path is logged.

    Args:
        filename (str): File name. Defaults to ``'student_final.pth'``.
        out_dir (str, optional): Directory of the file. Defaults to the
            runner's ``work_dir``.
    """

    priority = 'VERY_LOW'

    def __init__(self,
                 filename: str = 'student_final.pth',
                 out_dir: Optional[str] = None) -> None:
        if not isinstance(filename, str) or not filename:
            raise ValueError('StudentExportHook: filename must be a '
                             f'non-empty str, but got {filename!r}')
        if out_dir is not None and not isinstance(out_dir, str):
            raise ValueError('StudentExportHook: out_dir must be None or a '
                             f'str, but got {out_dir!r}')
        self.filename = filename
        self.out_dir = out_dir

    @staticmethod
    def _distiller(runner) -> KDDistiller:
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        if not isinstance(model, KDDistiller):
            raise TypeError(
                'StudentExportHook: the model must be a distiller '
                '(KDDistiller, DetKDDistiller, EEKDDistiller or another '
                f'KDDistiller subclass), but got {type(model).__name__}; '
                'remove the hook from custom_hooks of this config')
        return model

    def before_train(self, runner) -> None:
        """Fail before training when there is no student to export."""
        self._distiller(runner)

    @master_only
    def after_train(self, runner) -> None:
        """Write the student checkpoint and log its path."""
        model = self._distiller(runner)
        out_dir = runner.work_dir if self.out_dir is None else self.out_dir
        path = join_path(out_dir, self.filename)
        meta = dict(
            epoch=runner.epoch,
            iter=runner.iter,
            experiment_name=runner.experiment_name,
            time=time.strftime('%Y%m%d_%H%M%S', time.localtime()),
            exported_from=type(model).__name__)
        dataset = getattr(runner.train_dataloader, 'dataset', None)
        if hasattr(dataset, 'metainfo'):
            meta['dataset_meta'] = dataset.metainfo
        state_dict = weights_to_cpu(model.student_state_dict())
        save_checkpoint(dict(state_dict=state_dict, meta=meta), path)
        runner.logger.info(
            f'StudentExportHook: saved the student ({len(state_dict)} '
            f'tensors) to {path}')
