"""UniGrad's training step next to mmpretrain's BYOL step, side by side.

Both models get the backbone of the UniGrad config (ResNet-50 by default),
the same two-view batch and SGD; BYOL keeps its own projector and predictor
(``mmpretrain::byol/byol_resnet50_16xb256-coslr-200e_in1k.py``). Steps of
the two models alternate, so that machine load affects both alike; the
ratio of the median step times is printed (the issue's target: UniGrad at
most 1.1x BYOL).

Usage::

    python tools/analysis_tools/benchmark_unigrad.py \\
        [--config configs/unigrad/unigrad_resnet50_8xb128-coslr-100e_in1k.py] \\
        [--batch-size 32] [--input-size 224] [--steps 10] [--json OUT]
"""
import argparse
import copy
import json
import os.path as osp
import statistics
import sys
import time
from typing import Dict, Optional, Sequence

import mmpretrain
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope

import mmext  # noqa: F401
from mmext.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_CONFIG = osp.join(REPO, 'configs', 'unigrad',
                          'unigrad_resnet50_8xb128-coslr-100e_in1k.py')
BYOL_CONFIG = osp.join(
    osp.dirname(mmpretrain.__file__), '.mim', 'configs', 'byol',
    'byol_resnet50_16xb256-coslr-200e_in1k.py')


def build_pair(config: str) -> Dict[str, torch.nn.Module]:
    """UniGrad from ``config`` and BYOL with the same backbone (SyncBN
    acts as BN in one process)."""
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(config)
    unigrad_cfg = copy.deepcopy(cfg.model)
    byol_cfg = copy.deepcopy(Config.fromfile(BYOL_CONFIG).model)
    byol_cfg.backbone = copy.deepcopy(unigrad_cfg.backbone)
    models = {}
    for name, model_cfg in (('UniGrad', unigrad_cfg), ('BYOL', byol_cfg)):
        model = MODELS.build(model_cfg)
        model.init_weights()
        models[name] = model.train()
    return models


def benchmark(config: str = DEFAULT_CONFIG,
              batch_size: int = 32,
              input_size: int = 224,
              steps: int = 10,
              warmup: int = 2) -> dict:
    """Median training-step times (ms) of UniGrad and BYOL and their
    ratio."""
    models = build_pair(config)
    MessageHub.get_current_instance().update_info('max_iters', 10**6)
    g = torch.Generator().manual_seed(0)
    views = [
        torch.randn(batch_size, 3, input_size, input_size, generator=g)
        for _ in range(2)
    ]
    wrappers = {
        name: OptimWrapper(torch.optim.SGD(m.parameters(), lr=1e-3,
                                           momentum=0.9))
        for name, m in models.items()
    }
    times = {name: [] for name in models}
    for i in range(warmup + steps):
        for name, model in models.items():
            start = time.perf_counter()
            losses = model.loss(views, [])
            wrappers[name].update_params(losses['loss'])
            if i >= warmup:
                times[name].append(time.perf_counter() - start)
    result = {f'{n}_step_ms': 1e3 * statistics.median(t)
              for n, t in times.items()}
    result['ratio'] = result['UniGrad_step_ms'] / result['BYOL_step_ms']
    for name, model in models.items():
        result[f'{name}_backbone_params'] = sum(
            p.numel() for p in model.backbone.parameters())
    result.update(batch_size=batch_size, input_size=input_size, steps=steps)
    return result


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='UniGrad vs BYOL training step, side by side.')
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--input-size', type=int, default=224)
    parser.add_argument('--steps', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--json', default=None, help='write results here')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    result = benchmark(args.config, args.batch_size, args.input_size,
                       args.steps, args.warmup)
    print(f"batch {args.batch_size} x 2 views, {args.input_size}px, median "
          f"of {args.steps} steps: UniGrad {result['UniGrad_step_ms']:.1f} "
          f"ms, BYOL {result['BYOL_step_ms']:.1f} ms, ratio "
          f"{result['ratio']:.3f} (target <= 1.1)")
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
