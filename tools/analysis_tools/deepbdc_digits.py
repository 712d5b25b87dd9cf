"""Meta DeepBDC end to end on embedded data: the handwritten digits.

One command runs DeepBDC's three stages with mmext's configs, loops and
metric, on scikit-learn's 1,797 handwritten digits (written by
:func:`mmext.datasets.smoke_data.make_digits` to ``data/digits`` when
missing, 32 x 32 px):

1. pretraining: ResNet-12 + BDC pooling + a linear classifier over the
   train classes (``deepbdc-meta_resnet12_pretrain-*_mini-imagenet.py``),
2. meta-training from the pretrained model, one model per shot, on 5-way
   episodes with 16 queries (``deepbdc-meta_resnet12_5way-{1,5}shot-*``,
   ``MetaTrainLoop``),
3. the meta-test: 2,000 5-way episodes of 15 queries on the test classes
   (``MetaTestLoop``, prototype matching on cached features,
   ``FewShotAccuracy``: mean and 95% interval).

Class split: digits 0-4 are the train (base) classes and 5-9 the test
(novel) classes, each with all its images (both folders of
``data/digits``); 5-way episodes need five classes on each side, so ten
classes leave none for validation, and the schedule is fixed (no
validation, the last checkpoint is used). The split is written as
CloserLook file lists (``base.json``, ``novel.json``, absolute paths) in the
work directory and read by the configs' dataset in ``split_format='json'``.

The configs are the miniImageNet ones with the model and schedule shrunk
for two CPU cores: ResNet-12 widths ``--widths`` (default 32-64-64-64),
so a 32 px digit gives a 64 x 4 x 4 map and a 2,080-d BDC vector; the
temperature initialised to ``log(1 / (2 * 16))``; pretraining
``--pretrain-epochs`` epochs of batches of 64 (SGD lr 0.05, x0.1 at 60%
and 90%, dropout 0.5 after BDC); meta-training ``--meta-epochs`` x
``--meta-episodes`` episodes per shot (SGD lr ``--meta-lr``); random
resized crops (scale 0.6-1, no flip: digits are not mirror-symmetric).

Usage::

    python tools/analysis_tools/deepbdc_digits.py [--work-dir DIR] \
        [--threads N] [--seed 0]

Prints each stage's time and, per shot, ``accuracy ± 95% interval`` over
the test episodes; :func:`main` returns them.

Measured with the defaults (seed 0, 1 thread, 5 min 54 s on the shared
2-core machine at load 3.5-4.7): 5-way 1-shot 44.89 ± 0.41 %, 5-shot
82.04 ± 0.22 %; with ``--metric neg_sq_euclidean`` (also for 1-shot) 66.19
± 0.35 % and 82.04 ± 0.22 % (configs/deepbdc/README.md).
"""
import argparse
import copy
import json
import os
import os.path as osp
import sys
import tempfile
import time
from typing import Dict, List, Optional, Sequence

import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TRAIN_CLASSES = (0, 1, 2, 3, 4)
TEST_CLASSES = (5, 6, 7, 8, 9)
SHOTS = (1, 5)
CONFIG_DIR = osp.join(REPO, 'configs', 'deepbdc')
PRETRAIN_CONFIG = 'deepbdc-meta_resnet12_pretrain-1xb64-170e_mini-imagenet.py'
META_CONFIG = 'deepbdc-meta_resnet12_5way-{}shot-100e_mini-imagenet.py'
IMAGE_SIZE = 32


def write_split_lists(digits_root: str, out_dir: str) -> str:
    """Write ``base.json`` (train classes) and ``novel.json`` (test classes)
    listing every image of ``digits_root/{train,val}/<digit>/``; returns
    ``out_dir``, the ``data_root`` of the json split format."""
    os.makedirs(out_dir, exist_ok=True)
    for name, classes in (('base', TRAIN_CLASSES), ('novel', TEST_CLASSES)):
        images, labels = [], []
        for label, digit in enumerate(classes):
            for folder in ('train', 'val'):
                class_dir = osp.join(digits_root, folder, str(digit))
                files = sorted(f for f in os.listdir(class_dir)
                               if f.endswith('.png'))
                images += [osp.join(class_dir, f) for f in files]
                labels += [label] * len(files)
        with open(osp.join(out_dir, f'{name}.json'), 'w',
                  encoding='utf-8') as f:
            json.dump(dict(label_names=[str(c) for c in classes],
                           image_names=images, image_labels=labels), f)
    return out_dir


def _pipelines() -> Dict[str, List[dict]]:
    return dict(
        train=[
            dict(type='LoadImageFromFile'),
            dict(type='RandomResizedCrop', scale=IMAGE_SIZE,
                 crop_ratio_range=(0.6, 1.0)),
            dict(type='PackInputs'),
        ],
        test=[dict(type='LoadImageFromFile'), dict(type='PackInputs')])


def _data_split(split_root: str, split: str, pipeline: List[dict]) -> dict:
    return dict(
        type='FewShotImageDataset',
        data_root=split_root,
        split=split,
        split_format='json',
        pipeline=pipeline)


def digits_config(path: str, args: argparse.Namespace, split_root: str,
                  work_dir: str, epochs: int):
    """The config at ``path`` (a Meta DeepBDC config) on the digits split,
    with the shrunk model, no validation, single-process loaders, the test
    loop's episodes from ``args`` and ``epochs`` epochs, the last one's
    checkpoint saved."""
    from mmengine.config import Config
    cfg = Config.fromfile(path)
    pipes = _pipelines()
    cfg.model.backbone.widths = list(args.widths)
    cfg.model.neck.update(
        in_channels=args.widths[-1], reduced_channels=None,
        num_positions=(IMAGE_SIZE // 8)**2)
    cfg.data_preprocessor.num_classes = len(TRAIN_CLASSES)
    train_ds = cfg.train_dataloader.dataset
    if train_ds.type == 'EpisodicDataset':
        train_ds = train_ds.dataset
    train_ds.clear()
    train_ds.update(_data_split(split_root, 'train', pipes['train']))
    for loader in ('train_dataloader', 'test_dataloader'):
        cfg[loader].update(num_workers=0, persistent_workers=False)
    cfg.test_dataloader.dataset = _data_split(split_root, 'test',
                                              pipes['test'])
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_cfg.update(
        num_episodes=args.test_episodes, num_runs=1, cache_dtype='float32')
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=epochs)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=10)
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=args.seed)
    cfg.log_level = args.log_level
    return cfg


def pretrain_config(args: argparse.Namespace, split_root: str,
                    work_dir: str):
    """Stage 1: batches of the train classes, a linear classifier."""
    epochs = args.pretrain_epochs
    cfg = digits_config(
        osp.join(CONFIG_DIR, PRETRAIN_CONFIG), args, split_root, work_dir,
        epochs)
    width = args.widths[-1]
    cfg.model.neck.dropout_rate = 0.5
    cfg.model.head.update(
        num_classes=len(TRAIN_CLASSES), in_channels=width * (width + 1) // 2)
    cfg.train_cfg = dict(by_epoch=True, max_epochs=epochs)
    cfg.param_scheduler.milestones = [round(epochs * 0.6),
                                      round(epochs * 0.9)]
    return cfg


def meta_config(args: argparse.Namespace, shots: int, split_root: str,
                work_dir: str, load_from: str):
    """Stage 2 and 3 for ``shots``: episodes from the pretrained model."""
    cfg = digits_config(
        osp.join(CONFIG_DIR, META_CONFIG.format(shots)), args, split_root,
        work_dir, args.meta_epochs)
    cfg.model.head.metric = args.metric
    cfg.train_dataloader.dataset.num_episodes = args.meta_episodes
    cfg.train_cfg = dict(type='MetaTrainLoop', max_epochs=args.meta_epochs)
    cfg.optim_wrapper.optimizer.lr = args.meta_lr
    cfg.param_scheduler.milestones = [round(args.meta_epochs * 0.8)]
    cfg.load_from = load_from
    return cfg


def _runner(cfg):
    from mmengine.runner import Runner
    return Runner.from_cfg(copy.deepcopy(cfg))


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Meta DeepBDC (pretraining, meta-training, 5-way 1- and '
        '5-shot meta-test) on the digits (see the module docstring)')
    parser.add_argument('--data-dir', default=osp.join(REPO, 'data'),
                        help='parent of digits/ (written when missing)')
    parser.add_argument('--work-dir', help='checkpoints and logs (default: '
                        'a temporary folder)')
    parser.add_argument('--widths', type=int, nargs=4, default=(32, 64, 64,
                                                                 64))
    parser.add_argument('--pretrain-epochs', type=int, default=20)
    parser.add_argument('--meta-epochs', type=int, default=2)
    parser.add_argument('--meta-episodes', type=int, default=50,
                        help='episodes per meta-training epoch')
    parser.add_argument('--meta-lr', type=float, default=1e-3)
    parser.add_argument('--test-episodes', type=int, default=2000)
    parser.add_argument(
        '--metric', default='auto',
        choices=('auto', 'dot', 'neg_sq_euclidean', 'cosine'),
        help="PrototypeHead's metric in meta-training and test (default: "
        "the authors', inner product for 1-shot, negative squared distance "
        'otherwise)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--threads', type=int, default=1,
        help='torch CPU threads (default 1: on a shared machine every '
        'OpenMP barrier of 2 threads waits for a descheduled one, which '
        'makes the episodes of the meta-test ~70x slower)')
    parser.add_argument('--log-level', default='WARNING',
                        help="mmengine's log level (INFO shows training)")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, float]:
    args = parse_args(argv)
    if REPO not in sys.path:
        sys.path.insert(0, REPO)
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            return _run(args, args.work_dir or tmp)
    finally:
        torch.set_num_threads(threads)


def _run(args: argparse.Namespace, work_dir: str) -> Dict[str, float]:
    import mmext  # noqa: F401  (registers the components)
    from mmext.datasets.smoke_data import make_digits
    start = time.time()
    digits = make_digits(osp.join(args.data_dir, 'digits'))
    split_root = write_split_lists(digits, osp.join(work_dir, 'split'))
    result: Dict[str, float] = {}

    def stage(name: str, begin: float) -> None:
        result[f'{name}_seconds'] = time.time() - begin
        print(f'{name}: {result[f"{name}_seconds"]:.0f} s', flush=True)

    begin = time.time()
    pre_dir = osp.join(work_dir, 'pretrain')
    _runner(pretrain_config(args, split_root, pre_dir)).train()
    stage('pretraining', begin)
    checkpoint = osp.join(pre_dir, f'epoch_{args.pretrain_epochs}.pth')
    for shots in SHOTS:
        begin = time.time()
        runner = _runner(
            meta_config(args, shots, split_root,
                        osp.join(work_dir, f'meta_{shots}shot'), checkpoint))
        runner.train()
        stage(f'meta_training_{shots}shot', begin)
        begin = time.time()
        metrics = runner.test()
        stage(f'meta_test_{shots}shot', begin)
        result[f'{shots}shot_accuracy'] = metrics['few_shot/accuracy']
        result[f'{shots}shot_ci95'] = metrics['few_shot/ci95']
    result['seconds'] = time.time() - start
    print(f'Meta DeepBDC on the digits (train classes {TRAIN_CLASSES}, test '
          f'classes {TEST_CLASSES}), {args.test_episodes} test episodes of '
          f'5 ways x 15 queries, metric {args.metric!r}:')
    for shots in SHOTS:
        print(f'  5-way {shots}-shot: {result[f"{shots}shot_accuracy"]:.2f} '
              f'± {result[f"{shots}shot_ci95"]:.2f} %  (chance 20 %)')
    print(f'total time {result["seconds"]:.0f} s on '
          f'{torch.get_num_threads()} torch threads')
    return result


if __name__ == '__main__':
    main()
