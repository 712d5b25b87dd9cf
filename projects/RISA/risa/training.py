"""Training of the project's three networks (generator, feature network,
assessor) with mmengine's Runner, iteration-based, snapshots by the
suite's :class:`mmext.engine.hooks.SnapshotHook`."""
import copy
import os.path as osp
import time
from typing import List, Optional

from mmengine.runner import Runner

# importing mmext registers its hooks, losses and metrics
from mmext.engine.hooks import SnapshotHook


def train_model(model: dict,
                dataset: dict,
                work_dir: str,
                max_iters: int,
                batch_size: int,
                lr: float,
                num_snapshots: int = 1,
                seed: int = 0,
                log_interval: int = 50,
                val_dataset: Optional[dict] = None,
                val_metric: Optional[dict] = None) -> List[str]:
    """Train ``model`` on ``dataset`` with Adam for ``max_iters`` iterations
    and save ``num_snapshots`` checkpoints uniformly over the training (the
    last one is the final model).

    Args:
        model (dict): Config of a ``BaseModel`` whose ``forward(**batch,
            mode='loss')`` returns its losses.
        dataset (dict): Config of a dataset whose items are dicts of
            tensors (stacked by ``default_collate``).
        work_dir (str): Logs go there, snapshots to ``work_dir/snapshots``.
        max_iters (int): Training iterations.
        batch_size (int): Batch size.
        lr (float): Adam's learning rate.
        num_snapshots (int): Number of snapshots. Defaults to 1.
        seed (int): Seed of the runner (weights, sampler, augmentations).
            Defaults to 0.
        log_interval (int): Iterations between log lines. Defaults to 50.
        val_dataset (dict, optional): Config of a dataset evaluated with
            ``val_metric`` (through ``forward(**batch, mode='predict')``)
            once, after the last iteration. Defaults to None (no
            validation).
        val_metric (dict, optional): Config of the validation metric.

    Returns:
        list[str]: Paths of the snapshots, in training order.
    """
    hook = SnapshotHook(num_snapshots=num_snapshots, by_epoch=False)
    val = {}
    if val_dataset is not None:
        val = dict(
            val_dataloader=dict(
                dataset=copy.deepcopy(val_dataset),
                sampler=dict(type='DefaultSampler', shuffle=False),
                collate_fn=dict(type='default_collate'),
                batch_size=batch_size,
                num_workers=0),
            val_cfg=dict(type='ValLoop'),
            val_evaluator=copy.deepcopy(val_metric))
    runner = Runner(
        model=copy.deepcopy(model),
        work_dir=work_dir,
        experiment_name=f'{osp.basename(osp.normpath(work_dir))}_'
        f'{time.strftime("%Y%m%d_%H%M%S")}_{time.time_ns() % 10**9}',
        train_dataloader=dict(
            dataset=copy.deepcopy(dataset),
            sampler=dict(type='InfiniteSampler', shuffle=True, seed=seed),
            collate_fn=dict(type='default_collate'),
            batch_size=batch_size,
            num_workers=0),
        train_cfg=dict(type='IterBasedTrainLoop',
                       max_iters=max_iters,
                       val_interval=max_iters),
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=lr)),
        default_hooks=dict(
            checkpoint=None,
            logger=dict(type='LoggerHook', interval=log_interval)),
        custom_hooks=[hook],
        log_processor=dict(by_epoch=False),
        randomness=dict(seed=seed),
        default_scope='mmengine',
        **val)
    runner.train()
    return list(hook.saved)


def load_model(cfg: dict, checkpoint: Optional[str]):
    """Build a model from its config and load a snapshot (strictly), in
    eval mode."""
    from mmengine.registry import MODELS
    from mmengine.runner import load_checkpoint
    model = MODELS.build(copy.deepcopy(cfg))
    if checkpoint is not None:
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True,
                        logger='silent')
    return model.eval()
