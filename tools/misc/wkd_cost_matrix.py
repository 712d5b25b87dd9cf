"""Build WKD-L's category cost matrix from a trained teacher.

``d = 1 - linear CKA`` between the teacher's per-class feature matrices
(``--method cka-feature``, the authors' CIFAR-100 choice: every spatial
position of the last stage is a sample) or per-class logits (``cka-logit``,
their ImageNet choice), or ``d = 1 - cos`` between the rows of the
classifier weight (``fc``). Features are taken on the training split with
the test pipeline (no augmentation), as in the authors' tool. The ``(C, C)``
tensor is saved with ``torch.save``; ``WKDLogitLoss`` reads it through
``cost_matrix_file`` and applies the sharpening ``1 - exp(-kappa d)``.

As in the authors' ``tools/generate_class_proto.py`` (JiamingLv/WKD):

- the features are the last stage's output as their models return it in
  ``feats[-1]``: the backbone output, except for WRNs, whose last block
  output is taken before the final BN + ReLU (``backbone.layer3`` of
  ``CIFARWideResNet``); ``--feature-module`` overrides it;
- for ``cka-logit`` the i-th samples of two classes are paired in the order
  of a training loader shuffled with a seeded generator (their
  ``DataLoader(shuffle=True, generator=torch.Generator().manual_seed(0))``;
  every class is truncated to the smallest class's count), reproduced
  exactly for a dataset in the same file order; ``--order file`` pairs them
  in file order instead. ``cka-feature`` uses all samples in file order
  (their CIFAR loader is not shuffled).

Usage::

    python tools/misc/wkd_cost_matrix.py TEACHER_CONFIG TEACHER_CKPT OUT \
        [--method cka-feature|cka-logit|fc] [--order shuffle|file] \
        [--seed 0] [--batch-size 128]
"""
import argparse
import copy
import os
import os.path as osp
import sys
from typing import List, Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, load_checkpoint
from torch.utils.data import DataLoader

import mmext  # noqa: F401
from mmext.models.distillers import ModuleOutputsRecorder
from mmext.models.utils import cka_distance_matrix, cosine_distance_matrix
from mmext.registry import MODELS

METHODS = ('cka-feature', 'cka-logit', 'fc')
ORDERS = ('shuffle', 'file')
#: ``feats[-1]`` of the authors' models, by mmext backbone type (the
#: backbone output for every other type)
FEATURE_MODULES = {'CIFARWideResNet': 'backbone.layer3'}


def shuffled_order(num_samples: int, seed: int) -> List[int]:
    """The sample order of ``torch.utils.data.DataLoader(dataset,
    shuffle=True, generator=torch.Generator().manual_seed(seed))`` for a
    dataset of ``num_samples``: the loader draws its workers' base seed
    from the generator first, then its ``RandomSampler`` permutes."""
    generator = torch.Generator()
    generator.manual_seed(seed)
    torch.empty((), dtype=torch.int64).random_(generator=generator)
    return torch.randperm(num_samples, generator=generator).tolist()


def default_feature_module(model_cfg: dict) -> str:
    """The module whose output the authors use as a class's features."""
    backbone_type = str(model_cfg.get('backbone', {}).get('type', ''))
    return FEATURE_MODULES.get(backbone_type.split('.')[-1], 'backbone')


def class_features(model: torch.nn.Module, dataloader, module: str,
                   feature: bool) -> torch.Tensor:
    """``(K, n, D)`` per-class samples of ``module``'s output (the last
    element when it returns a tuple), truncated to the smallest class."""
    recorder = ModuleOutputsRecorder(model, dict(out=module), 'teacher')
    per_class: dict = {}
    with torch.no_grad():
        for batch in dataloader:
            data = model.data_preprocessor(batch, False)
            with recorder:
                model(data['inputs'], data['data_samples'], mode='tensor')
            out = recorder.get('out')
            out = out[-1] if isinstance(out, (tuple, list)) else out
            labels = [int(ds.gt_label) for ds in data['data_samples']]
            for x, y in zip(out, labels):
                # a (C, H, W) map gives H * W samples of dimension C
                rows = x.flatten(1).t() if feature else x.view(1, -1)
                per_class.setdefault(y, []).append(rows.float())
    recorder.remove()
    num_classes = max(per_class) + 1
    missing = [k for k in range(num_classes) if k not in per_class]
    if missing:
        raise ValueError(f'classes {missing[:10]} have no training sample')
    feats: List[torch.Tensor] = [
        torch.cat(per_class[k]) for k in range(num_classes)
    ]
    n = min(f.shape[0] for f in feats)
    return torch.stack([f[:n] for f in feats])


def build_cost_matrix(config: str,
                      checkpoint: str,
                      method: str = 'cka-feature',
                      feature_module: Optional[str] = None,
                      logit_module: str = 'head.fc',
                      batch_size: int = 128,
                      order: Optional[str] = None,
                      seed: int = 0) -> torch.Tensor:
    """The ``(C, C)`` distance ``d`` (before sharpening).

    ``feature_module`` defaults to :func:`default_feature_module`, ``order``
    to ``'shuffle'`` for ``cka-logit`` and ``'file'`` otherwise.
    """
    if method not in METHODS:
        raise ValueError(f'unknown method {method!r}, expected {METHODS}')
    order = order or ('shuffle' if method == 'cka-logit' else 'file')
    if order not in ORDERS:
        raise ValueError(f'unknown order {order!r}, expected {ORDERS}')
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model_cfg = copy.deepcopy(cfg.model)
    if 'data_preprocessor' not in model_cfg and \
            cfg.get('data_preprocessor') is not None:
        model_cfg['data_preprocessor'] = copy.deepcopy(cfg.data_preprocessor)
    model = MODELS.build(model_cfg)
    load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    model.eval()
    if method == 'fc':
        fc = dict(model.named_modules())[logit_module]
        return cosine_distance_matrix(fc.weight.detach().float())

    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    loader_cfg['dataset']['pipeline'] = copy.deepcopy(
        cfg.test_dataloader.dataset.pipeline)
    loader_cfg.update(
        batch_size=batch_size,
        sampler=dict(type='DefaultSampler', shuffle=False),
        persistent_workers=False)
    dataloader = Runner.build_dataloader(loader_cfg)
    if order == 'shuffle':
        dataloader = DataLoader(
            dataloader.dataset,
            batch_size=batch_size,
            sampler=shuffled_order(len(dataloader.dataset), seed),
            collate_fn=dataloader.collate_fn,
            num_workers=dataloader.num_workers)
    feature = method == 'cka-feature'
    if feature_module is None:
        feature_module = default_feature_module(model_cfg)
    feats = class_features(model, dataloader,
                           feature_module if feature else logit_module,
                           feature)
    return cka_distance_matrix(feats)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Build the WKD-L cost matrix from a teacher.')
    parser.add_argument('config', help='the teacher classifier config')
    parser.add_argument('checkpoint', help='the teacher checkpoint')
    parser.add_argument('out', help='output .pth file')
    parser.add_argument('--method', choices=METHODS, default='cka-feature')
    parser.add_argument(
        '--feature-module',
        default=None,
        help='module whose output (last of a tuple) gives the features; '
        'default: the authors\' choice (backbone.layer3, before the final '
        'BN + ReLU, for CIFARWideResNet; the backbone output otherwise)')
    parser.add_argument(
        '--logit-module',
        default='head.fc',
        help='the classifier layer (logits / fc weight)')
    parser.add_argument(
        '--order',
        choices=ORDERS,
        default=None,
        help='pairing of the samples of two classes: \'shuffle\' (the '
        'authors\' seeded shuffle; default for cka-logit) or \'file\' '
        '(dataset order; default otherwise)')
    parser.add_argument(
        '--seed', type=int, default=0, help='seed of the shuffle (0 as the '
        'authors)')
    parser.add_argument('--batch-size', type=int, default=128)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        dist = build_cost_matrix(args.config, args.checkpoint, args.method,
                                 args.feature_module, args.logit_module,
                                 args.batch_size, args.order, args.seed)
    except (OSError, KeyError, ValueError, RuntimeError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    if osp.dirname(args.out):
        os.makedirs(osp.dirname(args.out), exist_ok=True)
    torch.save(dist, args.out)
    print(f'saved a {tuple(dist.shape)} cost matrix ({args.method}) to '
          f'{args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
