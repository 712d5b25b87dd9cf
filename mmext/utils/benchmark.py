"""Parameter count, FLOPs, latency and training throughput of a config's model.

The reusable half of ``tools/analysis_tools/benchmark.py``. Every function
returns plain dicts so tests and notebooks can call them.

Supported models (``model_kind``):

- ``'classifier'``: mmpretrain ``ImageClassifier``; the measured forward is
  ``model(x, mode='tensor')`` = backbone, neck and head (``extract_feat`` then
  ``head``), on ``(N, C, H, W)``.
- ``'detector'``: mmdet ``TwoStageDetector`` and ``SingleStageDetector``;
  ``model(x, data_samples, mode='tensor')`` on ``(N, C, H, W)`` (padded by the
  detector's data preprocessor), as mmdet's ``get_flops.py`` does.
- ``'recognizer2d'``: mmaction2 ``Recognizer2D`` on ``(N, S, C, H, W)``
  (S segments); ``'recognizer3d'``: ``Recognizer3D`` on
  ``(N, V, C, T, H, W)`` (V = num_crops * num_clips); both run backbone, neck
  and ``cls_head`` (``stage='head'``).
- ``'episodic'``: mmext ``EpisodicClassifier`` (few-shot: DeepBDC, TAMT);
  ``model(x, mode='tensor')`` (the episode features) on ``(N, C, H, W)``
  images or ``(N, C, T, H, W)`` clips; its training step runs on one episode
  of ``N / 2`` ways, one support and one query each.
- ``'module'``: a plain ``nn.Module`` (not an mmengine ``BaseModel``) called as
  ``module(x)``.

Any other mmengine model raises ``TypeError`` naming the supported types.

``input_shape`` is always the shape of *one* sample, without the batch
dimension: ``(C, H, W)`` for images, ``(S, C, H, W)`` for Recognizer2D
(``(C, H, W)`` means ``S = backbone.num_segments`` or 8), ``(V, C, T, H, W)``
for Recognizer3D (``(C, T, H, W)`` means one view).

FLOPs follow mmengine's ``FlopAnalyzer`` (fvcore): one fused multiply-add
counts as one FLOP, so a ``k x k`` convolution costs
``k * k * C_in * C_out * H_out * W_out`` and biases are not counted. They are
measured for batch size 1; latency and throughput for ``batch_size``.
"""
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

__all__ = [
    'load_config', 'build_model', 'model_kind', 'default_input_shape',
    'count_parameters', 'make_synthetic_batch', 'measure_flops',
    'measure_latency', 'measure_train_throughput', 'benchmark_model',
    'benchmark_config', 'format_table'
]

# (kind, module that defines the base class, class name). Checked through
# sys.modules so that classifying a model never imports mmdet / mmaction:
# a model built from one of them has its base class's module loaded already.
_KNOWN_TYPES = (
    ('classifier', 'mmpretrain.models.classifiers.image', 'ImageClassifier'),
    ('detector', 'mmdet.models.detectors.two_stage', 'TwoStageDetector'),
    ('detector', 'mmdet.models.detectors.single_stage', 'SingleStageDetector'),
    ('recognizer2d', 'mmaction.models.recognizers.recognizer2d',
     'Recognizer2D'),
    ('recognizer3d', 'mmaction.models.recognizers.recognizer3d',
     'Recognizer3D'),
    ('episodic', 'mmext.models.classifiers.episodic_classifier',
     'EpisodicClassifier'),
)
_SUPPORTED = ('mmpretrain ImageClassifier, mmdet TwoStageDetector / '
              'SingleStageDetector, mmaction2 Recognizer2D / Recognizer3D, '
              'mmext EpisodicClassifier, or a plain nn.Module')
_DEFAULT_SHAPES = {
    'classifier': (3, 224, 224),
    'detector': (3, 800, 1333),
    'recognizer2d': (8, 3, 224, 224),
    'recognizer3d': (1, 3, 16, 224, 224),
    'episodic': (3, 84, 84),
    'module': (3, 224, 224),
}


# ------------------------------------------------------------ model setup
def load_config(config, cfg_options: Optional[dict] = None):
    """``Config.fromfile`` + ``--cfg-options`` + ``custom_imports``.

    ``config`` may be a path or an existing ``mmengine.Config`` (copied, not
    modified). ``custom_imports`` is imported after the options are merged, so
    options may add imports.
    """
    from mmengine.config import Config
    from mmengine.utils import import_modules_from_strings
    if isinstance(config, Config):
        cfg = config.copy()
    else:
        cfg = Config.fromfile(str(config))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if cfg.get('custom_imports', None):
        import_modules_from_strings(**cfg['custom_imports'])
    return cfg


def build_model(cfg, device: str = 'cpu') -> nn.Module:
    """Build ``cfg.model`` the way mmengine's ``Runner`` does.

    Sets the default scope (``cfg.default_scope``, else ``'mmpretrain'``),
    merges a top-level ``data_preprocessor`` into the model config (the
    Runner's behaviour, relied on by mmpretrain and mmaction2 configs),
    converts SyncBN to BN (no process group here) and moves the model to
    ``device``.
    """
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import MODELS, init_default_scope
    if cfg.get('model', None) is None:
        raise ValueError('the config has no `model` field')
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model_cfg = cfg.model.copy()
    if cfg.get('data_preprocessor', None) is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = MODELS.build(model_cfg)
    model = revert_sync_batchnorm(model)
    return model.to(device)


def model_kind(model: nn.Module) -> str:
    """One of ``'classifier'``, ``'detector'``, ``'recognizer2d'``,
    ``'recognizer3d'``, ``'episodic'``, ``'module'``; ``TypeError`` for
    other mmengine
    models."""
    for kind, module_name, cls_name in _KNOWN_TYPES:
        module = sys.modules.get(module_name)
        cls = getattr(module, cls_name, None) if module else None
        if cls is not None and isinstance(model, cls):
            return kind
    from mmengine.model import BaseModel
    if isinstance(model, BaseModel):
        raise TypeError(
            f'benchmark does not support {type(model).__module__}.'
            f'{type(model).__name__}; supported: {_SUPPORTED}')
    if isinstance(model, nn.Module):
        return 'module'
    raise TypeError(f'expected an nn.Module, got {type(model)}')


def default_input_shape(kind: str) -> Tuple[int, ...]:
    """The per-sample input shape used when none is given."""
    return _DEFAULT_SHAPES[kind]


def _normalise_shape(model: nn.Module, kind: str,
                     input_shape: Optional[Sequence[int]]) -> Tuple[int, ...]:
    if input_shape is None:
        return default_input_shape(kind)
    shape = tuple(int(s) for s in input_shape)
    if any(s < 1 for s in shape):
        raise ValueError(f'input_shape must be positive, got {shape}')
    expected = {
        'classifier': (3, ),
        'detector': (3, ),
        'recognizer2d': (3, 4),
        'recognizer3d': (4, 5),
    }.get(kind)
    if expected is not None and len(shape) not in expected:
        dims = ' or '.join(map(str, expected))
        raise ValueError(f'input_shape for a {kind} must have {dims} dims '
                         f'(one sample, no batch dim), got {shape}')
    if kind == 'recognizer2d' and len(shape) == 3:
        segments = getattr(model.backbone, 'num_segments', None) or 8
        shape = (int(segments), ) + shape
    elif kind == 'recognizer3d' and len(shape) == 4:
        shape = (1, ) + shape
    return shape


def count_parameters(model: nn.Module) -> Dict[str, int]:
    """``{'params': all, 'trainable_params': requires_grad only}``."""
    params = list(model.parameters())
    return dict(
        params=int(sum(p.numel() for p in params)),
        trainable_params=int(
            sum(p.numel() for p in params if p.requires_grad)))


# --------------------------------------------------------- synthetic data
def _num_classes(model: nn.Module, kind: str) -> int:
    head = None
    if kind == 'classifier':
        head = getattr(model, 'head', None)
    elif kind == 'detector':
        roi_head = getattr(model, 'roi_head', None)
        head = getattr(roi_head, 'bbox_head', None) if roi_head else getattr(
            model, 'bbox_head', None)
        if isinstance(head, (nn.ModuleList, list, tuple)):  # cascade heads
            head = head[-1]
    elif kind.startswith('recognizer'):
        head = getattr(model, 'cls_head', None)
    num = getattr(head, 'num_classes', None)
    return int(num) if num else 2


def _detector_sample(h: int, w: int, num_classes: int, with_mask: bool,
                     gen: torch.Generator):
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData
    num = 3
    side = torch.tensor([w, h, w, h], dtype=torch.float32)
    xy = torch.rand(num, 2, generator=gen) * 0.6
    wh = 0.15 + torch.rand(num, 2, generator=gen) * 0.25
    bboxes = torch.cat([xy, xy + wh], dim=1) * side
    instances = InstanceData()
    instances.bboxes = bboxes
    instances.labels = torch.randint(0, num_classes, (num, ), generator=gen)
    if with_mask:
        masks = np.zeros((num, h, w), dtype=np.uint8)
        for i, (x1, y1, x2, y2) in enumerate(bboxes.round().long().tolist()):
            masks[i, y1:y2, x1:x2] = 1
        instances.masks = BitmapMasks(masks, h, w)
    sample = DetDataSample(
        metainfo=dict(
            img_shape=(h, w),
            ori_shape=(h, w),
            scale_factor=(1.0, 1.0),
            flip=False,
            flip_direction=None))
    sample.gt_instances = instances
    return sample


def make_synthetic_batch(model: nn.Module,
                         input_shape: Optional[Sequence[int]] = None,
                         batch_size: int = 2,
                         seed: int = 0,
                         kind: Optional[str] = None) -> dict:
    """A raw batch as a dataloader would yield it for ``model``.

    Returns ``dict(inputs=[uint8 tensor per sample], data_samples=[...])``
    with random labels (and boxes and masks for detectors), ready for
    ``model.data_preprocessor`` and ``model.train_step``. For plain modules
    ``inputs`` is a float tensor ``(batch_size, *input_shape)`` and
    ``data_samples`` is ``None``.
    """
    if batch_size < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}')
    kind = kind or model_kind(model)
    shape = _normalise_shape(model, kind, input_shape)
    gen = torch.Generator().manual_seed(seed)
    if kind == 'module':
        return dict(
            inputs=torch.randn((batch_size, ) + shape, generator=gen),
            data_samples=None)
    inputs = [
        torch.randint(0, 256, shape, generator=gen,
                      dtype=torch.uint8) for _ in range(batch_size)
    ]
    num_classes = _num_classes(model, kind)
    labels = torch.randint(0, num_classes, (batch_size, ), generator=gen)
    if kind == 'classifier':
        from mmpretrain.structures import DataSample
        samples = [DataSample().set_gt_label(int(y)) for y in labels]
    elif kind == 'detector':
        roi_head = getattr(model, 'roi_head', None)
        with_mask = bool(getattr(roi_head, 'with_mask', False)) or bool(
            getattr(model, 'with_mask', False))
        samples = [
            _detector_sample(shape[-2], shape[-1], num_classes, with_mask, gen)
            for _ in range(batch_size)
        ]
    elif kind == 'episodic':
        samples = _episode_samples(model, batch_size)
    else:
        from mmaction.structures import ActionDataSample
        samples = [ActionDataSample().set_gt_label(int(y)) for y in labels]
    return dict(inputs=inputs, data_samples=samples)


def _episode_samples(model: nn.Module, batch_size: int) -> list:
    """One episode: sample ``i`` of class ``i // 2``, support if ``i`` is
    even (mmaction2 data samples for video preprocessors)."""
    from mmext.datasets.episodic import _set_episode_fields
    if 'mmaction' in type(model.data_preprocessor).__module__:
        from mmaction.structures import ActionDataSample as Sample
    else:
        from mmpretrain.structures import DataSample as Sample
    return [
        _set_episode_fields(dict(data_samples=Sample()), i // 2, i % 2 == 0,
                            0)['data_samples'] for i in range(batch_size)
    ]


# ------------------------------------------------------ measured forwards
class _TensorForward(nn.Module):
    """``forward(x)`` = the model's post-processing-free forward.

    A module (not a patched ``model.forward``) so the model is left as it was
    and FLOP tables are scoped under ``model.``.
    """

    def __init__(self, model: nn.Module, kind: str, data_samples=None):
        super().__init__()
        self.model = model
        self.kind = kind
        self.data_samples = data_samples

    def forward(self, x):
        if self.kind == 'module':
            return self.model(x)
        if self.kind in ('classifier', 'episodic'):
            return self.model(x, mode='tensor')
        if self.kind == 'detector':
            return self.model(x, self.data_samples, mode='tensor')
        return self.model(x, mode='tensor', stage='head')


def _preprocessed(model: nn.Module, kind: str, batch: dict,
                  training: bool) -> Tuple[torch.Tensor, Optional[list]]:
    """Model-ready ``(inputs, data_samples)`` for the tensor forward."""
    if kind == 'module':
        device = next(model.parameters()).device
        return batch['inputs'].to(device), None
    data = model.data_preprocessor(
        dict(inputs=list(batch['inputs']),
             data_samples=list(batch['data_samples'])), training)
    return data['inputs'], data['data_samples']


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device('cpu')


def _stats_ms(times: List[float]) -> Dict[str, float]:
    arr = np.asarray(times) * 1e3
    return dict(mean=float(arr.mean()), std=float(arr.std()))


def measure_flops(model: nn.Module,
                  input_shape: Optional[Sequence[int]] = None,
                  kind: Optional[str] = None,
                  seed: int = 0) -> dict:
    """FLOPs and activations of one sample via
    ``mmengine.analysis.get_model_complexity_info``.

    Returns ``dict(flops, flops_str, activations, activations_str,
    input_shape)`` where ``input_shape`` is the model-ready input tensor's
    shape (after the data preprocessor, e.g. padded for detectors).
    """
    from mmengine.analysis import get_model_complexity_info
    kind = kind or model_kind(model)
    batch = make_synthetic_batch(model, input_shape, 1, seed, kind)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            inputs, samples = _preprocessed(model, kind, batch, False)
            info = get_model_complexity_info(
                _TensorForward(model, kind, samples),
                inputs=(inputs, ),
                show_table=False,
                show_arch=False)
    finally:
        model.train(was_training)
    return dict(
        flops=int(info['flops']),
        flops_str=info['flops_str'],
        activations=int(info['activations']),
        activations_str=info['activations_str'],
        input_shape=list(inputs.shape))


def measure_latency(model: nn.Module,
                    input_shape: Optional[Sequence[int]] = None,
                    batch_size: int = 1,
                    iters: int = 10,
                    warmup: int = 2,
                    kind: Optional[str] = None,
                    seed: int = 0) -> dict:
    """Eval-mode tensor-forward latency under ``torch.no_grad``.

    The data preprocessor runs once, outside the timed loop. Returns
    ``dict(latency_ms_mean, latency_ms_std, batch_size, iters, warmup)``;
    per batch, not per sample.
    """
    if iters < 1 or warmup < 0:
        raise ValueError(f'need iters >= 1 and warmup >= 0, got {iters}, '
                         f'{warmup}')
    kind = kind or model_kind(model)
    batch = make_synthetic_batch(model, input_shape, batch_size, seed, kind)
    device = _model_device(model)
    was_training = model.training
    model.eval()
    times = []
    try:
        with torch.no_grad():
            inputs, samples = _preprocessed(model, kind, batch, False)
            fwd = _TensorForward(model, kind, samples)
            for i in range(warmup + iters):
                _sync(device)
                start = time.perf_counter()
                fwd(inputs)
                _sync(device)
                if i >= warmup:
                    times.append(time.perf_counter() - start)
    finally:
        model.train(was_training)
    stats = _stats_ms(times)
    return dict(
        latency_ms_mean=stats['mean'],
        latency_ms_std=stats['std'],
        batch_size=batch_size,
        iters=iters,
        warmup=warmup)


def measure_train_throughput(model: nn.Module,
                             input_shape: Optional[Sequence[int]] = None,
                             batch_size: int = 2,
                             iters: int = 5,
                             warmup: int = 1,
                             lr: float = 1e-4,
                             kind: Optional[str] = None,
                             seed: int = 0) -> dict:
    """Training steps per second on synthetic data.

    One step is ``model.train_step(batch, optim_wrapper)`` with plain SGD
    (momentum 0.9): data preprocessing, forward in ``'loss'`` mode, backward
    and the parameter update, exactly what mmengine's train loop calls. A
    plain module uses ``model(x).mean()`` as its loss. The model's weights are
    changed. Returns ``dict(train_step_ms_mean, train_step_ms_std,
    throughput, throughput_unit, loss)``; ``throughput`` is samples (images
    or clips) per second and ``loss`` the last step's total loss.
    """
    from mmengine.optim import OptimWrapper
    if iters < 1 or warmup < 0:
        raise ValueError(f'need iters >= 1 and warmup >= 0, got {iters}, '
                         f'{warmup}')
    kind = kind or model_kind(model)
    batch = make_synthetic_batch(model, input_shape, batch_size, seed, kind)
    device = _model_device(model)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError('model has no trainable parameters')
    optim_wrapper = OptimWrapper(
        torch.optim.SGD(params, lr=lr, momentum=0.9))
    was_training = model.training
    model.train()
    times, loss = [], float('nan')
    try:
        for i in range(warmup + iters):
            _sync(device)
            start = time.perf_counter()
            if kind == 'module':
                out = model(batch['inputs'].to(device))
                total = out.float().mean()
                optim_wrapper.update_params(total)
            else:
                log_vars = model.train_step(
                    dict(
                        inputs=list(batch['inputs']),
                        data_samples=list(batch['data_samples'])),
                    optim_wrapper)
                total = log_vars['loss']
            _sync(device)
            if i >= warmup:
                times.append(time.perf_counter() - start)
            loss = float(total.detach())
    finally:
        model.train(was_training)
    stats = _stats_ms(times)
    unit = 'clips/s' if kind.startswith('recognizer') else 'images/s'
    if kind == 'module':
        unit = 'samples/s'
    return dict(
        train_step_ms_mean=stats['mean'],
        train_step_ms_std=stats['std'],
        throughput=batch_size * 1e3 / stats['mean'],
        throughput_unit=unit,
        loss=loss)


# ------------------------------------------------------------- drivers
def benchmark_model(model: nn.Module,
                    input_shape: Optional[Sequence[int]] = None,
                    batch_size: int = 2,
                    iters: int = 10,
                    warmup: int = 2,
                    train: bool = True,
                    seed: int = 0) -> dict:
    """All measurements for a built model, as one flat dict.

    Keys: ``model_type``, ``kind``, ``device``, ``input_shape`` (per sample),
    ``batch_size``, ``params``, ``trainable_params``, ``flops``,
    ``flops_str``, ``activations``, ``flops_input_shape``,
    ``latency_ms_mean``, ``latency_ms_std``, ``iters``, ``warmup`` and, when
    ``train``, ``train_step_ms_mean``, ``train_step_ms_std``, ``throughput``,
    ``throughput_unit``, ``train_loss``. Training runs last because it
    changes the weights.
    """
    kind = model_kind(model)
    shape = _normalise_shape(model, kind, input_shape)
    result = dict(
        model_type=type(model).__name__,
        kind=kind,
        device=str(_model_device(model)),
        input_shape=list(shape),
        batch_size=int(batch_size),
        torch_version=torch.__version__)
    result.update(count_parameters(model))
    flops = measure_flops(model, shape, kind, seed)
    result.update(
        flops=flops['flops'],
        flops_str=flops['flops_str'],
        activations=flops['activations'],
        flops_input_shape=flops['input_shape'])
    lat = measure_latency(model, shape, batch_size, iters, warmup, kind, seed)
    result.update(
        latency_ms_mean=lat['latency_ms_mean'],
        latency_ms_std=lat['latency_ms_std'],
        iters=int(iters),
        warmup=int(warmup))
    if train:
        tr = measure_train_throughput(
            model, shape, batch_size, iters, warmup, kind=kind, seed=seed)
        result.update(
            train_step_ms_mean=tr['train_step_ms_mean'],
            train_step_ms_std=tr['train_step_ms_std'],
            throughput=tr['throughput'],
            throughput_unit=tr['throughput_unit'],
            train_loss=tr['loss'])
    return result


def benchmark_config(config,
                     input_shape: Optional[Sequence[int]] = None,
                     batch_size: int = 2,
                     iters: int = 10,
                     warmup: int = 2,
                     device: str = 'cpu',
                     cfg_options: Optional[dict] = None,
                     train: bool = True,
                     seed: int = 0) -> dict:
    """:func:`benchmark_model` on the model of a config file (or Config).

    Adds ``config`` (the path, when given one) to the result.
    """
    if device not in ('cpu', 'cuda') and not str(device).startswith('cuda:'):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if str(device).startswith('cuda') and not torch.cuda.is_available():
        raise ValueError('device cuda requested but CUDA is not available')
    cfg = load_config(config, cfg_options)
    model = build_model(cfg, device)
    result = dict(config=None if hasattr(config, 'pretty_text') else str(
        config))
    result.update(
        benchmark_model(model, input_shape, batch_size, iters, warmup, train,
                        seed))
    return result


def _fmt_count(n: Union[int, float]) -> str:
    for div, suffix in ((1e12, 'T'), (1e9, 'G'), (1e6, 'M'), (1e3, 'K')):
        if abs(n) >= div:
            return f'{n / div:.3f}{suffix}'
    return str(n)


def format_table(result: dict) -> str:
    """A two-column text table of a :func:`benchmark_model` result."""
    rows = [
        ('config', result.get('config')),
        ('model', f"{result['model_type']} ({result['kind']})"),
        ('device', result['device']),
        ('input shape (per sample)', tuple(result['input_shape'])),
        ('batch size', result['batch_size']),
        ('params', f"{_fmt_count(result['params'])} ({result['params']:,}; "
         f"trainable {result['trainable_params']:,})"),
        ('FLOPs (batch 1)', f"{_fmt_count(result['flops'])} at "
         f"{tuple(result['flops_input_shape'])}"),
        ('forward latency', f"{result['latency_ms_mean']:.2f} +- "
         f"{result['latency_ms_std']:.2f} ms/batch "
         f"({result['iters']} iters, {result['warmup']} warmup)"),
    ]
    if 'throughput' in result:
        rows += [
            ('train step', f"{result['train_step_ms_mean']:.2f} +- "
             f"{result['train_step_ms_std']:.2f} ms/batch"),
            ('train throughput',
             f"{result['throughput']:.2f} {result['throughput_unit']}"),
        ]
    rows = [(k, str(v)) for k, v in rows if v is not None]
    width = max(len(k) for k, _ in rows)
    vwidth = max(len(v) for _, v in rows)
    line = '+' + '-' * (width + 2) + '+' + '-' * (vwidth + 2) + '+'
    body = [f'| {k.ljust(width)} | {v.ljust(vwidth)} |' for k, v in rows]
    return '\n'.join([line, *body, line])
