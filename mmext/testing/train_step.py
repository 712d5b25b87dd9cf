"""One training step of a config's classifier, with mmext's compiled ops or
with their pure-PyTorch fallbacks.

Used by the model-level checks (``tests/test_models/test_train_step_ops.py``,
run on CUDA by ``tools/gpu_check.sh``) and by the throughput benchmark
(``tools/analysis_tools/benchmark_train_throughput.py``). The fallback is the
one a user without the extension gets (see :mod:`mmext.ops.ext_loader`):
:func:`mmext.ops.isqrt_cov` and friends run :mod:`mmext.ops.cov_sqrt_ref`,
:func:`mmext.ops.deform_sample` runs ``F.grid_sample``.
"""
import copy
import importlib
import logging
import os.path as osp
from contextlib import contextmanager, nullcontext
from typing import Dict, Iterator, Optional, Set, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.profiler import ProfilerActivity, profile

_PACKAGE = osp.dirname(osp.dirname(osp.realpath(__file__)))
#: the repository's configs, or those installed with the package for mim
CONFIGS = next((d for d in (osp.join(osp.dirname(_PACKAGE), 'configs'),
                            osp.join(_PACKAGE, '.mim', 'configs'))
                if osp.isdir(d)), osp.join(osp.dirname(_PACKAGE), 'configs'))

#: name -> (config under ``configs/``, whether it calls mmext's compiled ops)
MODEL_CONFIGS: Dict[str, Tuple[str, bool]] = {
    'DAT-T': ('dat/dat_tiny_8xb128_300e_in1k.py', True),
    'iSQRT-COV-R50': ('isqrt_cov/isqrt-cov_resnet50_8xb20_65e_in1k.py', True),
    'So-ViT-7': ('so_vit/so_vit_7_8xb64_300e_in1k.py', False),
    'ACmix-R26': ('acmix/acmix_resnet26_8xb16_90e_in1k.py', False),
    'GSoP-R50': ('gsop/gsop-net1_resnet50_8xb48_95e_in1k.py', True),
}


@contextmanager
def reference_ops() -> Iterator[None]:
    """Run every mmext op through its pure-PyTorch fallback inside the block,
    as if ``mmext._ext`` were missing (without the warning)."""
    # mmext.ops.deform_sample is also the op's name: import the modules
    cov_sqrt = importlib.import_module('mmext.ops.cov_sqrt')
    deform_sample = importlib.import_module('mmext.ops.deform_sample')
    saved = cov_sqrt._ext_supports, deform_sample._use_kernel
    cov_sqrt._ext_supports = lambda device_type: False
    deform_sample._use_kernel = lambda device_type: False
    try:
        yield
    finally:
        cov_sqrt._ext_supports, deform_sample._use_kernel = saved


def build_classifier(name: str, configs_dir: Optional[str] = None) -> nn.Module:
    """The ``model`` of :data:`MODEL_CONFIGS` ``[name]``, initialised, on
    the CPU, in train mode."""
    from mmengine.config import Config
    from mmengine.logging import MMLogger
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS

    import mmext  # noqa: F401  (registers the components)
    if name not in MODEL_CONFIGS:
        raise KeyError(f'unknown model {name!r}; choose from '
                       f'{sorted(MODEL_CONFIGS)}')
    path = osp.join(configs_dir or CONFIGS, MODEL_CONFIGS[name][0])
    cfg = Config.fromfile(path)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)  # one line per parameter otherwise
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)
    return model.train()


def loss_fn(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """Cross entropy of the classifier's logits (``mode='tensor'``: the data
    preprocessor and its batch augmentations are bypassed), in float32 for
    half-precision logits, else in their dtype."""
    logits = model(x, mode='tensor')
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    return F.cross_entropy(logits, y)


def train_step(model: nn.Module,
               x: Tensor,
               y: Tensor,
               reference: bool = False,
               seed: int = 0,
               called: Optional[Set[str]] = None,
               stochastic: bool = True
               ) -> Tuple[Tensor, Dict[str, Tensor]]:
    """Forward, loss and backward of a copy of ``model`` on ``x``'s device,
    in ``x``'s dtype (e.g. float64 for comparisons across devices).

    Returns the loss and every parameter's gradient (detached). Stochastic
    depth and dropout draw from a generator seeded with ``seed``, so two
    calls on one device differ only in the ops' implementation; the CPU and
    CUDA generators give different draws, so comparisons across devices
    pass ``stochastic=False`` (every dropout and drop-path probability set
    to 0 in the copy). ``called``, if given, receives the names of the
    ``mmext::`` ops that ran (from the profiler).
    """
    model = copy.deepcopy(model).to(x.device, x.dtype).train()
    if not stochastic:
        for module in model.modules():
            if isinstance(module, nn.modules.dropout._DropoutNd):
                module.p = 0.0
            if hasattr(module, 'drop_prob'):  # DropPath (mmcv, timm, mmext)
                module.drop_prob = 0.0
    torch.manual_seed(seed)
    with reference_ops() if reference else nullcontext(), \
            profile(activities=[ProfilerActivity.CPU]) as prof:
        loss = loss_fn(model, x, y)
        loss.backward()
    if called is not None:
        called.update(e.name for e in prof.events()
                      if e.name.startswith('mmext::'))
    grads = {
        n: p.grad.detach().clone()
        for n, p in model.named_parameters() if p.grad is not None
    }
    return loss.detach(), grads


def compare_steps(a: Tuple[Tensor, Dict[str, Tensor]],
                  b: Tuple[Tensor, Dict[str, Tensor]]) -> Dict[str, float]:
    """Differences between two :func:`train_step` results (``b`` is the
    reference): relative loss difference, relative norm of the difference of
    all gradients concatenated, and the worst parameter's largest absolute
    gradient difference in units of the largest absolute gradient."""
    (loss_a, grads_a), (loss_b, grads_b) = a, b
    if grads_a.keys() != grads_b.keys():
        raise AssertionError('different parameters received gradients: '
                             f'{sorted(grads_a.keys() ^ grads_b.keys())}')
    names = sorted(grads_b)
    flat_a = torch.cat([grads_a[n].double().cpu().flatten() for n in names])
    flat_b = torch.cat([grads_b[n].double().cpu().flatten() for n in names])
    scale = flat_b.abs().max().clamp_min(1e-30)
    return dict(
        loss=(abs(loss_a.double().cpu() - loss_b.double().cpu()) /
              loss_b.double().abs().clamp_min(1e-30).cpu()).item(),
        grad=((flat_a - flat_b).norm() / flat_b.norm().clamp_min(1e-30)
              ).item(),
        grad_max=((flat_a - flat_b).abs().max() / scale).item(),
        finite=bool(torch.isfinite(flat_a).all() and
                    torch.isfinite(loss_a).all()))
