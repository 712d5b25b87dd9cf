"""Adaptive inference of a multi-exit model: anytime accuracy, budgeted batch
classification (MSDNet's protocol) and the measured time per image.

Usage::

    python tools/analysis_tools/adaptive_inference.py CONFIG CHECKPOINT \
        [--calib {train,val-heldout}] [--calib-size N] [--out DIR] \
        [--device cpu|cuda] [--batch-size B] [--time-images 1000] \
        [--seed 0] [--cfg-options key=value ...]

The config's model implements :class:`mmext.models.utils.MultiExitMixin`.
The tool

1. measures the cumulative cost of steps ``1..t`` per image from the model
   (:func:`mmext.evaluation.measure_step_costs`, on one preprocessed test
   image) in the authors' convention (multiply-adds of conv, linear and GRU
   layers: GFNet's and MSDNet's figures) and in mmengine's;
2. runs every step on the calibration images and on the test images and
   keeps each step's confidence (max softmax) and correctness;
3. reports the anytime accuracy of each step and, for each ``p`` of
   :data:`mmext.evaluation.P_VALUES`, fits thresholds on the calibration
   images for exit fractions ``∝ p^t`` and reports the test accuracy, exit
   fractions and expected cost (:mod:`mmext.evaluation.budgeted_batch`);
4. times real early exit (:func:`mmext.models.utils.early_exit_predict`,
   exited images are not computed further) on the first ``--time-images``
   test images for each budget and for each anytime step (everyone exits
   there): milliseconds per image, data loading and preprocessing excluded.
   Timings depend on the machine and its load.

Calibration split (``--calib``):

- ``train`` (the authors' protocol; GFNet's ``inference.py`` fits on
  200,000 random training images): ``--calib-size`` random images of the
  config's ``train_dataloader`` dataset with its training pipeline
  (augmentation included, seeded by ``--seed``); every test image is
  evaluated. Default size: the whole training set.
- ``val-heldout``: the test set (``test_dataloader``, its pipeline, no
  augmentation) is split at random: ``--calib-size`` images (default half)
  fit the thresholds, the other ones are evaluated. No training image is
  used and no evaluated image is seen while fitting.

Writes ``adaptive_inference.json`` (every number above; thresholds keep
``Infinity`` / ``-Infinity`` for "nobody exits" / "everyone left exits",
which Python's ``json`` reads back) and ``adaptive_inference.png`` (accuracy
against cost and against time per image) to ``--out``, and prints a table.
``docs/adaptive_inference.md`` describes the protocol.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

CALIB_SPLITS = ('train', 'val-heldout', 'stored')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Anytime and budgeted batch accuracy, step costs and '
        'time per image of a multi-exit model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--calib',
        choices=CALIB_SPLITS,
        default='train',
        help='images the thresholds are fitted on: training images with '
        'training augmentation (the authors), or a random held-out part of '
        'the test set without augmentation (the rest is evaluated); '
        '"stored": no fitting, the thresholds a converted release keeps in '
        "the checkpoint's meta")
    parser.add_argument(
        '--calib-size',
        type=int,
        default=None,
        help='number of calibration images (default: the whole training '
        'set for train, half the test set for val-heldout)')
    parser.add_argument(
        '--out', default='work_dirs/adaptive_inference', help='output dir')
    parser.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        choices=['cpu', 'cuda'])
    parser.add_argument(
        '--batch-size',
        type=int,
        default=None,
        help='batch size of every pass (default: the test dataloader\'s)')
    parser.add_argument(
        '--time-images',
        type=int,
        default=1000,
        help='test images timed for each budget (0: no timing)')
    parser.add_argument(
        '--seed', type=int, default=0, help='calibration subset and '
        'training augmentation')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config, key=value (mmengine style)')
    return parser.parse_args(argv)


# ---------------------------------------------------------------- data
def _dataloader(loader_cfg, dataset, batch_size: Optional[int], seed: int):
    """A deterministic-order loader over ``dataset`` with the settings
    (workers, collate) of ``loader_cfg``; ``seed`` seeds the workers'
    augmentation."""
    from mmengine.runner import Runner
    cfg = dict(loader_cfg)
    cfg.update(dataset=dataset, sampler=dict(type='DefaultSampler',
                                             shuffle=False))
    cfg.pop('batch_sampler', None)
    if batch_size is not None:
        cfg['batch_size'] = batch_size
    if not cfg.get('num_workers'):
        cfg['persistent_workers'] = False
    return Runner.build_dataloader(cfg, seed=seed)


def _build_dataset(loader_cfg, key: str):
    from mmengine.registry import DATASETS
    if loader_cfg is None:
        raise ValueError(f'the config has no `{key}` (needed for the '
                         'calibration or test images)')
    dataset = DATASETS.build(loader_cfg['dataset'])
    if hasattr(dataset, 'full_init'):
        dataset.full_init()
    return dataset


def build_loaders(cfg, calib: str, calib_size: Optional[int],
                  batch_size: Optional[int], seed: int) -> Tuple:
    """``(calib_loader, test_loader, info)``; ``info`` describes the split
    (images, indices' origin, augmentation)."""
    from torch.utils.data import Subset
    if calib not in CALIB_SPLITS:
        raise ValueError(f'calib must be one of {CALIB_SPLITS}, got '
                         f'{calib!r}')
    rng = np.random.default_rng(seed)
    test_cfg = cfg.get('test_dataloader')
    test_set = _build_dataset(test_cfg, 'test_dataloader')
    if calib == 'stored':  # nothing to fit on
        calib_set, calib_cfg, eval_set = None, None, test_set
    elif calib == 'train':
        calib_cfg = cfg.get('train_dataloader')
        train_set = _build_dataset(calib_cfg, 'train_dataloader')
        size = len(train_set) if calib_size is None else calib_size
        if not 1 <= size <= len(train_set):
            raise ValueError(f'calib_size must be in [1, {len(train_set)}] '
                             f'(training images), got {size}')
        picked = np.sort(rng.permutation(len(train_set))[:size])
        calib_set = Subset(train_set, picked.tolist())
        eval_set = test_set
    else:
        calib_cfg = test_cfg
        size = len(test_set) // 2 if calib_size is None else calib_size
        if not 1 <= size < len(test_set):
            raise ValueError(f'calib_size must be in [1, {len(test_set) - 1}]'
                             f' (test images, some left to evaluate), got '
                             f'{size}')
        order = rng.permutation(len(test_set))
        calib_set = Subset(test_set, np.sort(order[:size]).tolist())
        eval_set = Subset(test_set, np.sort(order[size:]).tolist())
    calib_loader = None if calib_set is None else _dataloader(
        calib_cfg, calib_set, batch_size, seed)
    test_loader = _dataloader(test_cfg, eval_set, batch_size, seed)
    info = dict(
        split=calib,
        images=0 if calib_set is None else len(calib_set),
        augmentation=calib == 'train',
        test_images=len(eval_set),
        seed=seed)
    return calib_loader, test_loader, info


# ------------------------------------------------------------- passes
def _preprocess(model, batch) -> Tuple[torch.Tensor, torch.Tensor]:
    """Model-ready ``(N, ...)`` inputs and ``(N,)`` labels of a raw batch."""
    data = model.data_preprocessor(batch, False)
    labels = torch.cat(
        [s.gt_label.reshape(-1)[:1] for s in data['data_samples']])
    return data['inputs'], labels


def collect(model, loader, what: str) -> Tuple[np.ndarray, np.ndarray]:
    """``(T, N)`` confidences and ``(T, N)`` correctness of every step."""
    from mmengine.logging import print_log
    from mmengine.utils import ProgressBar

    from mmext.models.utils.multi_exit import (all_steps_predict,
                                               exit_confidence)
    print_log(f'every step on the {what} images', logger='current')
    confs, rights = [], []
    bar = ProgressBar(len(loader))
    for batch in loader:
        inputs, labels = _preprocess(model, batch)
        conf, pred = exit_confidence(all_steps_predict(model, inputs))
        confs.append(conf.cpu().numpy())
        rights.append((pred == labels.to(pred.device)[None]).cpu().numpy())
        bar.update()
    print()
    return np.concatenate(confs, axis=1), np.concatenate(rights, axis=1)


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_thresholds(model, loader, thresholds: List[Sequence[float]],
                    max_images: int) -> List[float]:
    """Milliseconds per image of real early exit with each set of
    thresholds, on the first ``max_images`` images of ``loader``."""
    from mmengine.logging import print_log
    from mmengine.utils import ProgressBar

    from mmext.models.utils.multi_exit import early_exit_predict
    print_log(f'timing early exit on {max_images} test images',
              logger='current')
    total = np.zeros(len(thresholds))
    seen = 0
    bar = ProgressBar(-(-max_images // loader.batch_size))
    for batch in loader:
        inputs, _ = _preprocess(model, batch)
        inputs = inputs[:max_images - seen]
        if seen == 0:  # warm-up (allocations, kernel selection)
            early_exit_predict(model, inputs, thresholds[-1])
        for i, thr in enumerate(thresholds):
            _sync(inputs.device)
            start = time.perf_counter()
            early_exit_predict(model, inputs, thr)
            _sync(inputs.device)
            total[i] += time.perf_counter() - start
        seen += inputs.shape[0]
        bar.update()
        if seen >= max_images:
            break
    print()
    return (total / seen * 1e3).tolist()


# ------------------------------------------------------------- results
def budgeted_sweep(calib_conf: Optional[np.ndarray],
                   test_conf: np.ndarray,
                   test_correct: np.ndarray,
                   costs: Dict[str, List[float]],
                   stored: Optional[np.ndarray] = None) -> List[dict]:
    """One row per ``p`` of MSDNet's sweep: thresholds fitted on the
    calibration confidences (or the ``stored`` row of that ``p``), test
    accuracy, exit fractions, expected cost in each convention."""
    from mmext.evaluation import (P_VALUES, evaluate_thresholds,
                                  fit_thresholds, geometric_exit_fractions)
    rows = []
    for i, p in enumerate(P_VALUES):
        if stored is not None:
            thresholds = stored[i]
        else:
            fractions = geometric_exit_fractions(p, test_conf.shape[0])
            thresholds = fit_thresholds(calib_conf, fractions)
        row = dict(p=p, thresholds=thresholds.tolist())
        for name, step_costs in costs.items():
            out = evaluate_thresholds(test_conf, test_correct, thresholds,
                                      step_costs)
            row[f'cost_{name}'] = out.pop('expected_cost')
            row.update(out)
        rows.append(row)
    return rows


def format_table(result: dict) -> str:
    """The anytime steps and the budgets as a text table."""
    head = (f'{"":>8} {"top-1 %":>8} {"MMACs authors":>14} '
            f'{"MFLOPs mmengine":>16} {"ms/image":>9}')
    lines = [head, '-' * len(head)]

    def line(label, row):
        ms = row.get('ms_per_image')
        lines.append(f'{label:>8} {row["accuracy"]:8.2f} '
                     f'{row["cost_authors"] / 1e6:14.4g} '
                     f'{row["cost_mmengine"] / 1e6:16.4g} '
                     f'{"-" if ms is None else f"{ms:.3f}":>9}')

    for row in result['anytime']:
        line(f'step {row["step"]}', row)
    lines.append('-' * len(head))
    for row in result['budgeted']:
        line(f'p={row["p"]:.2f}', row)
    return '\n'.join(lines)


def plot(result: dict, path: str) -> None:
    """Accuracy against cost (authors' convention) and against time per
    image: the budgeted curve and the anytime steps."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    budget, anytime = result['budgeted'], result['anytime']
    timed = budget[0].get('ms_per_image') is not None
    fig, axes = plt.subplots(1, 2 if timed else 1, figsize=(
        11 if timed else 5.5, 4), squeeze=False)
    panels = [('cost_authors', 1e-6, 'MMACs per image (authors\' count)',
               '.-')]
    if timed:  # measured times are noisy: points, not a line
        panels.append(('ms_per_image', 1, 'ms per image (measured)', '.'))
    for ax, (key, scale, label, style) in zip(axes[0], panels):
        ax.plot([r[key] * scale for r in budget],
                [r['accuracy'] for r in budget], style, label='budgeted batch')
        ax.plot([r[key] * scale for r in anytime],
                [r['accuracy'] for r in anytime], 'o', label='anytime steps')
        ax.set_xlabel(label)
        ax.set_ylabel('top-1 accuracy (%)')
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(osp.basename(result['config']))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(args: argparse.Namespace) -> dict:
    from mmengine.runner import load_checkpoint, set_random_seed

    from mmext.evaluation import (anytime_accuracy, measure_step_costs,
                                  stored_thresholds)
    from mmext.models.utils.multi_exit import MultiExitMixin
    from mmext.utils.benchmark import build_model, load_config

    for name in ('batch_size', 'calib_size'):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f'--{name.replace("_", "-")} must be >= 1, got '
                             f'{value}')
    if args.time_images < 0:
        raise ValueError(f'--time-images must be >= 0, got '
                         f'{args.time_images}')
    cfg = load_config(args.config, args.cfg_options)
    model = build_model(cfg, args.device)
    if not isinstance(model, MultiExitMixin):
        raise ValueError(
            f'model.type={cfg.model.type!r} builds {type(model).__name__}, '
            'which does not implement mmext.models.utils.MultiExitMixin')
    # a release without thresholds stops here, before any pass
    stored = stored_thresholds(args.checkpoint, model.num_steps) \
        if args.calib == 'stored' else None
    load_checkpoint(model, args.checkpoint, map_location='cpu', strict=True)
    model.eval()
    set_random_seed(args.seed)
    calib_loader, test_loader, calib_info = build_loaders(
        cfg, args.calib, args.calib_size, args.batch_size, args.seed)

    example, _ = _preprocess(model, next(iter(test_loader)))
    costs = {
        name: measure_step_costs(model, example[:1], name)
        for name in ('authors', 'mmengine')
    }
    calib_conf = None if calib_loader is None else collect(
        model, calib_loader, 'calibration')[0]
    test_conf, test_correct = collect(model, test_loader, 'test')

    steps = test_conf.shape[0]
    anytime = [
        dict(step=t + 1, accuracy=float(acc),
             cost_authors=costs['authors'][t],
             cost_mmengine=costs['mmengine'][t])
        for t, acc in enumerate(anytime_accuracy(test_correct))
    ]
    budgeted = budgeted_sweep(calib_conf, test_conf, test_correct, costs,
                              stored)
    timed = min(args.time_images, calib_info['test_images'])
    if timed:
        # anytime step t: nobody exits before t, everyone at t
        forced = [[np.inf] * t + [-np.inf] * (steps - t)
                  for t in range(steps)]
        times = time_thresholds(
            model, test_loader, forced + [r['thresholds'] for r in budgeted],
            timed)
        for row, ms in zip(anytime + budgeted, times):
            row['ms_per_image'] = ms
    return dict(
        config=args.config,
        checkpoint=args.checkpoint,
        device=args.device,
        num_steps=steps,
        calibration=calib_info,
        step_costs=costs,
        timed_images=timed,
        anytime=anytime,
        budgeted=budgeted)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    # Run from a checkout without installing: make `mmext` importable.
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    if repo not in sys.path:
        sys.path.insert(0, repo)
    result = run(args)
    print(format_table(result))
    os.makedirs(args.out, exist_ok=True)
    json_path = osp.join(args.out, 'adaptive_inference.json')
    with open(json_path, 'w', encoding='utf-8') as f:
        json.dump(result, f, indent=2)
    plot(result, osp.join(args.out, 'adaptive_inference.png'))
    print(f'results written to {json_path} and adaptive_inference.png')
    return result


if __name__ == '__main__':
    main()
