"""UniGrad end to end on embedded data: pretraining, then linear evaluation.

1. UniGrad pretrains a narrow CIFAR ResNet-18 on the digits' training images
   without their labels
   (``configs/unigrad/unigrad_resnet18-cifar-w16_1xb128-20e_digits.py``,
   through mmengine's Runner: two augmented views, momentum encoder, the
   running correlation matrix ``F``).
2. Linear evaluation of the frozen encoder: its globally pooled features of
   the training images (standardised) fit a multinomial logistic regression
   (scikit-learn), scored on the held-out images. The same evaluation of a
   randomly initialised encoder of the same architecture is printed next to
   it.

Usage::

    python tools/analysis_tools/unigrad_digits.py [--work-dir DIR] \
        [--data data/digits] [--epochs 20] [--seed 0] [--threads 1]

Prints both accuracies and returns them from :func:`main`.
"""
import argparse
import glob
import os.path as osp
import sys
import time
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'unigrad',
                  'unigrad_resnet18-cifar-w16_1xb128-20e_digits.py')


def load_split(root: str, split: str) -> Tuple[torch.Tensor, np.ndarray]:
    """``(N, 3, H, W)`` images of ``root/split/<digit>/*.png``, normalised
    as the config's data preprocessor (RGB, ``(x - 127.5) / 127.5``), and
    their labels."""
    import cv2
    paths = sorted(glob.glob(osp.join(root, split, '*', '*.png')))
    if not paths:
        raise FileNotFoundError(f'no digits images under {root}/{split}')
    imgs = np.stack([cv2.imread(p)[..., ::-1] for p in paths])
    labels = np.array([int(osp.basename(osp.dirname(p))) for p in paths])
    x = torch.from_numpy(imgs.copy()).permute(0, 3, 1, 2).float()
    return (x - 127.5) / 127.5, labels


@torch.no_grad()
def encoder_features(backbone: torch.nn.Module,
                     images: torch.Tensor) -> np.ndarray:
    """``(N, C)`` globally average-pooled last-stage features."""
    backbone.eval()
    feats = [
        backbone(b)[-1].mean((2, 3)) for b in images.split(256)
    ]
    return torch.cat(feats).numpy()


def linear_eval(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray,
                test_y: np.ndarray) -> float:
    """Top-1 (%) of a logistic regression on standardised features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    clf.fit(train_x, train_y)
    return 100.0 * float((clf.predict(test_x) == test_y).mean())


def evaluate(backbone: torch.nn.Module, data: dict) -> float:
    """Linear top-1 (%) of ``backbone``'s frozen features."""
    return linear_eval(
        encoder_features(backbone, data['train'][0]), data['train'][1],
        encoder_features(backbone, data['val'][0]), data['val'][1])


def build_config(work_dir: str, data_root: str, epochs: Optional[int],
                 seed: int):
    """The digits config, rooted at ``data_root``; ``epochs`` shortens the
    schedule (warm-up stays 2 epochs, or 1 for fewer than 4; one epoch is
    warm-up only)."""
    from mmengine.config import Config
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = work_dir
    cfg.train_dataloader.dataset.data_root = data_root
    cfg.randomness = dict(seed=seed)
    if epochs is not None:
        warmup = 2 if epochs >= 4 else 1
        cfg.train_cfg.max_epochs = epochs
        cfg.param_scheduler[0].end = warmup
        if epochs > warmup:
            cfg.param_scheduler[1].update(
                begin=warmup, end=epochs, T_max=epochs - warmup)
        else:
            cfg.param_scheduler = cfg.param_scheduler[:1]
    return cfg


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='UniGrad on the digits: pretraining, then linear '
        'evaluation next to a randomly initialised encoder')
    parser.add_argument('--work-dir', default='work_dirs/unigrad_digits')
    parser.add_argument(
        '--data', default='data/digits',
        help='digits tree (written when missing)')
    parser.add_argument(
        '--epochs', type=int, default=None,
        help='pretraining epochs (default: the config\'s 20)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--threads', type=int, default=1,
        help='torch threads (1 is fastest on a shared 2-core machine)')
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        parser.error(f'--epochs must be >= 1, got {args.epochs}')
    return args


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, float]:
    args = parse_args(argv)
    if REPO not in sys.path:
        sys.path.insert(0, REPO)
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    import mmext  # noqa: F401
    from mmext.datasets import make_digits
    from mmext.registry import MODELS
    torch.set_num_threads(args.threads)
    start = time.time()
    data_root = make_digits(args.data, seed=0)
    data = dict(train=load_split(data_root, 'train'),
                val=load_split(data_root, 'val'))
    cfg = build_config(args.work_dir, data_root, args.epochs, args.seed)
    init_default_scope('mmpretrain')
    # the random baseline: the same architecture, the same initialisation
    # rule, before any training
    torch.manual_seed(args.seed)
    random_model = MODELS.build(cfg.model)
    random_model.init_weights()
    random_top1 = evaluate(random_model.backbone, data)
    runner = Runner.from_cfg(cfg)
    runner.train()
    unigrad_top1 = evaluate(runner.model.backbone, data)
    result = dict(
        random_encoder_top1=random_top1,
        unigrad_encoder_top1=unigrad_top1,
        epochs=cfg.train_cfg.max_epochs,
        seconds=time.time() - start)
    print(f'linear evaluation on the held-out digits ({len(data["val"][1])} '
          f'images), {result["epochs"]} epochs of UniGrad, '
          f'{result["seconds"]:.0f} s:')
    print(f'  random encoder   top-1 {random_top1:6.2f}%')
    print(f'  UniGrad encoder  top-1 {unigrad_top1:6.2f}%')
    return result


if __name__ == '__main__':
    main()
