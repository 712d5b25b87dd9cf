"""Save intermediate models uniformly over training: the "experience" of a
teacher for experience ensemble knowledge distillation (EEKD).

`Learn From the Past: Experience Ensemble Knowledge Distillation
<https://arxiv.org/abs/2202.12488>`_ (Wang et al., 2022): M intermediate
models saved uniformly during the teacher's training.
"""
import math
import warnings
from typing import List, Optional

from mmengine.fileio import join_path
from mmengine.hooks import Hook

from mmext.registry import HOOKS
from mmext.utils.snapshots import SNAPSHOT_FILENAME


def snapshot_points(num_snapshots: int, begin: int, end: int) -> List[int]:
    """Epochs (or iterations) after which snapshots are saved.

    Snapshot ``k`` (``k = 1 .. M``) is taken after
    ``begin + ceil(k * (end - begin) / M)`` completed units, so the points
    are spaced uniformly over ``(begin, end]`` and the last one is ``end``
    (the final model). When ``end - begin < M``, coinciding points are
    merged, so fewer than ``M`` snapshots result.

    Args:
        num_snapshots (int): ``M``.
        begin (int): Units completed before the first interval starts.
        end (int): Units completed at the last snapshot (``> begin``).

    Returns:
        list[int]: Increasing, distinct points in ``(begin, end]``.
    """
    span = end - begin
    return sorted({
        begin + math.ceil(k * span / num_snapshots)
        for k in range(1, num_snapshots + 1)
    })


@HOOKS.register_module()
class SnapshotHook(Hook):
    """Save ``num_snapshots`` model checkpoints spaced uniformly over
    training (see :func:`snapshot_points`).

    With 240 epochs and ``num_snapshots=5`` the snapshots are taken after
    epochs 48, 96, 144, 192 and 240. Each file holds only the model's
    ``state_dict`` and ``meta`` (no optimizer or scheduler state) and loads
    with ``load_checkpoint(model, path, strict=True)`` into the plain model,
    e.g. as a teacher of :class:`~mmext.models.distillers.EEKDDistiller`
    (``teacher_ckpts=<out_dir>``). Files are named
    ``snapshot_epoch_{n}.pth`` or ``snapshot_iter_{n}.pth`` and written
    through mmengine's file backend (:meth:`Runner.save_checkpoint`;
    atomic on local disk, see :mod:`mmext.utils.compat`). Each save and the
    final list are logged.

    Args:
        num_snapshots (int): Number of snapshots ``M``. Defaults to 5 (the
            EEKD paper's choice).
        by_epoch (bool): Space the snapshots over epochs (saved at the end
            of an epoch) or over iterations. Defaults to True.
        begin (int): Epochs (iterations) completed before the uniformly
            spaced interval starts; ``0`` spreads the snapshots over the
            whole training. Defaults to 0.
        end (int, optional): Epochs (iterations) completed at the last
            snapshot. Defaults to the end of training.
        out_dir (str, optional): Directory of the snapshots. Defaults to
            ``{work_dir}/snapshots``.
    """

    priority = 'VERY_LOW'

    def __init__(self,
                 num_snapshots: int = 5,
                 by_epoch: bool = True,
                 begin: int = 0,
                 end: Optional[int] = None,
                 out_dir: Optional[str] = None) -> None:
        for key, value, low in (('num_snapshots', num_snapshots, 1),
                                ('begin', begin, 0)):
            if isinstance(value, bool) or not isinstance(value, int) \
                    or value < low:
                raise ValueError(
                    f'SnapshotHook: {key} must be an int >= {low}, '
                    f'but got {value!r}')
        if end is not None and (isinstance(end, bool)
                                or not isinstance(end, int) or end <= begin):
            raise ValueError('SnapshotHook: end must be None or an int > '
                             f'begin ({begin}), but got {end!r}')
        self.num_snapshots = num_snapshots
        self.by_epoch = by_epoch
        self.begin = begin
        self.end = end
        self.out_dir = out_dir
        self.points: List[int] = []
        self.saved: List[str] = []

    @property
    def unit(self) -> str:
        return 'epoch' if self.by_epoch else 'iter'

    def before_train(self, runner) -> None:
        """Compute the snapshot points from the length of training."""
        total = runner.max_epochs if self.by_epoch else runner.max_iters
        end = total if self.end is None else self.end
        if end > total:
            raise ValueError(f'SnapshotHook: end={end} is beyond the '
                             f'training length ({total} {self.unit}s)')
        if end <= self.begin:
            raise ValueError(f'SnapshotHook: begin={self.begin} leaves no '
                             f'{self.unit} to snapshot (training ends at '
                             f'{end})')
        self.points = snapshot_points(self.num_snapshots, self.begin, end)
        if len(self.points) < self.num_snapshots:
            warnings.warn(
                f'SnapshotHook: {self.num_snapshots} snapshots asked for but '
                f'only {end - self.begin} {self.unit}s in ({self.begin}, '
                f'{end}]; saving {len(self.points)}')
        if self.out_dir is None:
            self.out_dir = join_path(runner.work_dir, 'snapshots')
        self.saved = []
        runner.logger.info(
            f'SnapshotHook: {len(self.points)} snapshots after {self.unit}s '
            f'{self.points}, in {self.out_dir}')

    def after_train_epoch(self, runner) -> None:
        if self.by_epoch:
            self._maybe_save(runner, runner.epoch + 1)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        if not self.by_epoch:
            self._maybe_save(runner, runner.iter + 1)

    def after_train(self, runner) -> None:
        runner.logger.info(f'SnapshotHook: saved {len(self.saved)} '
                           f'snapshots: {self.saved}')

    def _maybe_save(self, runner, done: int) -> None:
        if done not in self.points:
            return
        filename = SNAPSHOT_FILENAME.format(unit=self.unit, n=done)
        runner.save_checkpoint(
            self.out_dir,
            filename,
            save_optimizer=False,
            save_param_scheduler=False,
            meta=dict(snapshot_index=self.points.index(done),
                      num_snapshots=len(self.points)),
            by_epoch=self.by_epoch)
        path = join_path(self.out_dir, filename)
        self.saved.append(path)
        runner.logger.info(
            f'SnapshotHook: saved snapshot {self.points.index(done) + 1}/'
            f'{len(self.points)} ({self.unit} {done}) to {path}')
