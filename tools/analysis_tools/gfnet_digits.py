"""GFNet end to end on embedded data: the three training stages on
scikit-learn's handwritten digits (upsampled to 64 x 64), then the budgeted
evaluation with its plot.

1. ``configs/gfnet/gfnet-stage{1,2,3}_resnet18-p24_*_digits.py`` are trained
   in turn with mmengine's runner (stage 1: random patches; stage 2: PPO on
   the policy, encoders and classifier frozen; stage 3: fine-tuning with the
   learned policy), each stage loading the previous one's last checkpoint.
2. ``tools/analysis_tools/adaptive_inference.py`` fits MSDNet's thresholds
   on a random half of the held-out digits (``--calib val-heldout``) and
   evaluates the other half: anytime accuracy per step, budgeted top-1
   against the authors' MACs, time per image with real early exit
   (``DIR/budgeted/adaptive_inference.{json,png}``).

Usage::

    python tools/analysis_tools/gfnet_digits.py [--work-dir DIR] \
        [--epochs-scale 1.0] [--threads 1]

Prints each stage's anytime accuracy and the budgeted table; returns the
adaptive tool's result from :func:`main`.
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STAGES = ('gfnet-stage1_resnet18-p24_1xb64_15e_digits.py',
          'gfnet-stage2_resnet18-p24_1xb64_5e_digits.py',
          'gfnet-stage3_resnet18-p24_1xb64_5e_digits.py')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/gfnet_digits')
    parser.add_argument(
        '--epochs-scale', type=float, default=1.0,
        help='multiply every stage\'s epochs (at least 1 each)')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--time-images', type=int, default=200)
    return parser.parse_args(argv)


def _data_options(data_root: str) -> dict:
    return {
        f'{split}_dataloader.dataset.data_root': data_root
        for split in ('train', 'val', 'test')
    }


def train_stage(name: str, work_dir: str, data_root: str,
                load_from: Optional[str], epochs_scale: float) -> str:
    """Train one stage; returns its last checkpoint."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'gfnet', name))
    cfg.merge_from_dict(_data_options(data_root))
    epochs = max(1, round(cfg.train_cfg.max_epochs * epochs_scale))
    cfg.train_cfg.max_epochs = epochs
    cfg.train_cfg.val_interval = epochs
    if isinstance(cfg.param_scheduler, dict):
        cfg.param_scheduler.update(T_max=epochs, end=epochs)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=epochs, max_keep_ckpts=1)
    cfg.work_dir = osp.join(work_dir, osp.splitext(name)[0])
    cfg.load_from = load_from
    init_default_scope('mmpretrain')
    runner = Runner.from_cfg(cfg)
    runner.train()
    return osp.join(cfg.work_dir, f'epoch_{epochs}.pth')


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    if REPO not in sys.path:
        sys.path.insert(0, REPO)
    torch.set_num_threads(args.threads)
    import mmext  # noqa: F401
    from mmext.datasets import make_digits
    data_root = make_digits(osp.join(args.work_dir, 'data', 'digits'),
                            size=32)
    checkpoint = None
    for name in STAGES:
        checkpoint = train_stage(name, args.work_dir, data_root, checkpoint,
                                 args.epochs_scale)
    sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
    import adaptive_inference
    options = [f'{k}={v}' for k, v in _data_options(data_root).items()]
    return adaptive_inference.main([
        osp.join(REPO, 'configs', 'gfnet', STAGES[-1]), checkpoint,
        '--calib', 'val-heldout', '--out',
        osp.join(args.work_dir, 'budgeted'), '--device', 'cpu',
        '--time-images', str(args.time_images), '--cfg-options', *options
    ])


if __name__ == '__main__':
    main()
