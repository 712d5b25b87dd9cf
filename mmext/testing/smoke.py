"""Turn a full-size config into a seconds-long CPU smoke run.

Real configs point at OpenMMLab's dataset locations (``data/imagenet``,
``data/coco``, ``data/kinetics400``, ``data/digits``).
:func:`shrink_config` re-roots those paths onto the small datasets written by
:mod:`mmext.datasets.smoke_data`, keeps a few samples, shrinks image sizes,
and runs one short epoch. Architecture, losses and evaluators are untouched.
"""
import copy
import json
import os.path as osp
from functools import partial
from typing import Any, Callable, Optional

from mmengine.config import Config

from mmext.models.distillers import load_model_cfg

#: Per task family: factor applied to resize/crop sizes in pipelines.
_SIZE_FACTOR = {
    'mmpretrain': 32 / 224,
    'mmdet': 128 / 800,
    'mmaction': 32 / 224
}
_SIZE_KEYS = ('scale', 'crop_size', 'input_size')
_DATA_PREFIX = 'data/'
#: Dataset types that verify official checksums, and the variants reading
#: the smoke copies without that check.
_SMOKE_DATASET_TYPES = {'CIFAR100': 'SmokeCIFAR100'}
#: Model keys naming optional files (checkpoints, precomputed matrices) that
#: do not exist in smoke runs; set to None (a path or a list of paths).
_OPTIONAL_FILE_KEYS = ('teacher_ckpt', 'cost_matrix_file', 'teacher_ckpts')
#: Few-shot class splits (:mod:`mmext.datasets.few_shot_splits`): smoke runs
#: read the digits' train/val class folders instead (10 classes each).
_FEW_SHOT_SPLIT_TYPES = ('FewShotImageDataset', 'MiniImageNet',
                         'TieredImageNet', 'CUBFewShot')
#: Few-shot video splits: smoke runs read the class folders written by
#: :func:`mmext.datasets.make_few_shot_video_style` (10 classes per split).
_FEW_SHOT_VIDEO_TYPES = ('FewShotVideoDataset', )
#: Episodes per epoch of EpisodicDataset, and per meta-test, in smoke runs.
_SMOKE_EPISODES = (2, 5)
#: Queries per class of smoke episodes (the video smoke split has 7 clips
#: per class: 5 shots + 2 queries).
_SMOKE_QUERIES = 2


def _visit_dicts(node: Any, fn: Callable[[dict], None]) -> None:
    """Call ``fn`` on every dict under ``node`` (lists and tuples are
    entered), a dict before its values, so ``fn`` may rewrite it first."""
    if isinstance(node, dict):
        fn(node)
        for v in node.values():
            _visit_dicts(v, fn)
    elif isinstance(node, (list, tuple)):
        for v in node:
            _visit_dicts(v, fn)


#: Video datasets without smoke copies, read from one in the same format
#: (the dataset's name in every path becomes the copy's: ActivityNet's
#: ``data/activitynet/activitynet_train_list_videos.txt`` reads
#: ``kinetics400/kinetics400_train_list_videos.txt``)
_SMOKE_DATA_ALIASES = {
    'activitynet': 'kinetics400',
    'fcvid': 'kinetics400',
    'mini-kinetics': 'kinetics400',
    'sthv2': 'sthv1',
    'jester': 'sthv1'
}


def _reroot(value: Any, data_dir: str) -> Any:
    """Map ``data/...`` paths (also inside dicts, e.g. ``data_prefix``)."""
    if isinstance(value, str) and value.startswith(_DATA_PREFIX):
        rel = value[len(_DATA_PREFIX):]
        name = rel.split('/', 1)[0]
        if name in _SMOKE_DATA_ALIASES:
            rel = rel.replace(name, _SMOKE_DATA_ALIASES[name])
        return osp.join(data_dir, rel)
    if isinstance(value, dict):
        return type(value)({k: _reroot(v, data_dir) for k, v in value.items()})
    return value


def _shrink_size(value: Any, factor: float) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if value <= 0 else max(16, round(value * factor))
    if isinstance(value, (tuple, list)):
        return type(value)(_shrink_size(v, factor) for v in value)
    return value


def _shrink_pipeline(pipeline: list, factor: float) -> None:
    for t in pipeline:
        if not isinstance(t, dict):
            continue
        for key in _SIZE_KEYS:
            if key in t:
                t[key] = _shrink_size(t[key], factor)
        if t.get('type') == 'SampleFrames' and t.get('test_mode'):
            t['num_clips'] = min(t.get('num_clips', 1), 3)
        if t.get('type') == 'TenCrop':
            t['type'] = 'CenterCrop'


def _frames_per_view(model: dict) -> Optional[int]:
    """``num_segments`` of a model that needs exactly that many frames per
    test view (TSM's shifted backbone, TCP's head, AdaFocusV2's exit per
    frame), else None."""
    if isinstance(model.get('num_segments'), int):
        return model['num_segments']
    for part in ('cls_head', 'backbone'):
        frames = (model.get(part) or {}).get('num_segments')
        if isinstance(frames, int):
            return frames
    return None


def _set_test_clips(node: dict, num_clips: int) -> None:
    """Set ``num_clips`` of a test-mode ``SampleFrames`` transform."""
    if node.get('type') == 'SampleFrames' and node.get('test_mode'):
        node['num_clips'] = num_clips


def _shrink_dataset(ds: dict, data_dir: str, factor: float,
                    num_samples: int) -> None:
    if ds.get('type') == 'EpisodicDataset':  # episodes of the whole split
        ds['num_episodes'] = min(ds.get('num_episodes', 1), _SMOKE_EPISODES[0])
        ds['num_queries'] = min(ds.get('num_queries', 16), _SMOKE_QUERIES)
        _shrink_dataset(ds['dataset'], data_dir, factor, None)
        return
    if ds.get('type') in _FEW_SHOT_SPLIT_TYPES + _FEW_SHOT_VIDEO_TYPES:
        split = ds.get('split', 'train')
        folder = 'digits' if ds['type'] in _FEW_SHOT_SPLIT_TYPES else \
            'few_shot_video'
        ds.update(
            data_root=osp.join(data_dir, folder),
            split_format='folder',
            split='train' if split == 'train' else 'val')
        if num_samples is not None:
            ds['indices'] = num_samples
        _shrink_pipeline(ds.get('pipeline', []), factor)
        return
    if isinstance(ds.get('dataset'), dict):  # a wrapper: shrink the inner one
        if 'times' in ds:  # RepeatDataset: one pass
            ds['times'] = 1
        _shrink_dataset(ds['dataset'], data_dir, factor, num_samples)
        return
    if isinstance(ds.get('datasets'), list):  # ConcatDataset (VOC07+12)
        for sub in ds['datasets']:
            _shrink_dataset(sub, data_dir, factor, num_samples)
        return
    if isinstance(ds.get('target'), dict):  # UDADataset: source + target
        for key in ('source', 'target'):
            if isinstance(ds.get(key), dict):
                _shrink_dataset(ds[key], data_dir, factor, num_samples)
        return
    if ds.get('type') in _SMOKE_DATASET_TYPES:
        ds['type'] = _SMOKE_DATASET_TYPES[ds['type']]
    for key in ('data_root', 'ann_file', 'data_prefix'):
        if key in ds:
            ds[key] = _reroot(ds[key], data_dir)
    if isinstance(ds.get('filter_cfg'), dict):
        ds['filter_cfg']['min_size'] = 0
        if 'bbox_min_size' in ds['filter_cfg']:
            ds['filter_cfg']['bbox_min_size'] = 0
    if num_samples is not None:
        ds['indices'] = num_samples
    _shrink_pipeline(ds.get('pipeline', []), factor)


def _shrink_meta_loops(cfg: Config) -> set:
    """Few-shot meta-tests (``MetaValLoop``): a few episodes, the test loop
    the same as the validation; returns the splits whose loaders must keep
    every sample (episodes are drawn from the whole split)."""
    val_cfg = cfg.get('val_cfg') or {}
    if val_cfg.get('type') != 'MetaValLoop':
        return set()
    val_cfg['num_episodes'] = min(
        val_cfg.get('num_episodes', 2000), _SMOKE_EPISODES[1])
    val_cfg['num_queries'] = min(val_cfg.get('num_queries', 15),
                                 _SMOKE_QUERIES)
    val_cfg['num_runs'] = 1
    cfg.test_cfg = dict(copy.deepcopy(val_cfg), type='MetaTestLoop')
    return {'val', 'test'}


def _drop_pretrained(node: dict) -> None:
    """Remove pretrained-weight loading (no weights exist in smoke runs),
    also inside models referenced by ``cfg_path`` (distiller teachers),
    which are inlined first."""
    if isinstance(node.get('cfg_path'), str):
        inline = load_model_cfg(node)
        node.clear()
        node.update(inline)
    if isinstance(node.get('init_cfg'), dict) and \
            node['init_cfg'].get('type') == 'Pretrained':
        node['init_cfg'] = None
    if isinstance(node.get('pretrained'), str):
        node.pop('pretrained')
    for key in _OPTIONAL_FILE_KEYS:
        value = node.get(key)
        if isinstance(value, str) or (
                isinstance(value, (list, tuple)) and value
                and all(isinstance(v, str) for v in value)):
            node[key] = None


#: the tiny open_clip towers of smoke runs (the text context stays 77 tokens,
#: which prompt learners such as DAPL's fill)
_TINY_OPEN_CLIP_TEXT = dict(
    context_length=77, vocab_size=49408, width=32, heads=2, layers=1)


def _tiny_open_clip(node: dict, factor: float) -> None:
    """Make every open_clip model (a ``clip_cfg`` dict with ``model_name``,
    e.g. DAPL's) a tiny one of the same family (modified ResNet or ViT) for
    the shrunk images; its pretrained weights were dropped already."""
    clip = node.get('clip_cfg')
    if isinstance(clip, dict) and isinstance(clip.get('model_name'), str):
        import open_clip
        base = open_clip.get_model_config(clip['model_name']) or {}
        vision = base.get('vision_cfg', {})
        size = _shrink_size(vision.get('image_size', 224), factor)
        if vision.get('patch_size'):
            vision = dict(
                image_size=size,
                patch_size=vision['patch_size'],
                layers=1,
                width=32,
                head_width=16)
        else:
            vision = dict(
                image_size=size, layers=[1, 1, 1, 1], width=8,
                patch_size=None)
        clip.update(
            embed_dim=32,
            vision_cfg=vision,
            text_cfg=dict(_TINY_OPEN_CLIP_TEXT))


def _keep_all_detections(node: dict) -> None:
    """Set every ``score_thr`` to 0 (a detector trained for a few iterations
    scores below the usual 0.05, and the evaluator needs some boxes) and
    keep at most 10 detections per image (mask pasting and COCO evaluation
    of 100 would dominate the run)."""
    if 'score_thr' in node:
        node['score_thr'] = 0.0
        if 'max_per_img' in node:
            node['max_per_img'] = min(node['max_per_img'], 10)


def _few_proposals(node: dict) -> None:
    """Cap region proposals at 64 per image (from at most 512 before
    NMS) and RoI samples at 32: two-stage detectors with a heavy RoI head
    (a C4 ResNet's res5 runs once per RoI) would otherwise spend minutes
    on their 300-2000 proposals per image."""
    if 'nms_pre' in node and 'max_per_img' in node:
        node['nms_pre'] = min(node['nms_pre'], 512)
        node['max_per_img'] = min(node['max_per_img'], 64)
    if node.get('type') == 'RandomSampler' and 'num' in node:
        node['num'] = min(node['num'], 32)


def _merge_smoke_model(cfg: Config) -> None:
    """Merge the config's ``smoke_model`` dict (if any) into its model."""
    if isinstance(cfg.get('smoke_model'), dict):
        cfg.merge_from_dict(dict(model=cfg.smoke_model))


def smoke_model_key(cfg: Config) -> str:
    """The model a smoke run of ``cfg`` builds, as a canonical string.

    Configs with equal keys train the same model in their smoke runs (they
    differ in schedule, dataset, or in sizes that ``smoke_model`` replaces,
    e.g. GFNet's patch size or DenseNet-121 / 169 / 201 reduced to one small
    DenseNet, or in the pretrained weights, which smoke runs drop), so one
    run serves them all.
    """
    cfg = copy.deepcopy(cfg)
    _merge_smoke_model(cfg)
    _visit_dicts(cfg.model, _drop_pretrained)
    return json.dumps(cfg.model.to_dict(), sort_keys=True, default=str)


def shrink_config(cfg: Config,
                  data_dir: str,
                  work_dir: str,
                  num_samples: int = 4,
                  batch_size: int = 2,
                  scope: Optional[str] = None) -> Config:
    """Return a copy of ``cfg`` that trains one short epoch on smoke data.

    Args:
        cfg: A full config (as loaded by ``Config.fromfile``).
        data_dir: Directory holding the smoke datasets (``imagenet/``,
            ``coco/``, ``kinetics400/``, ``digits/``, ``few_shot_video/``...,
            as ``tests/conftest.py`` writes them).
        work_dir: Where the run writes logs and checkpoints.
        num_samples: Samples kept per dataset.
        batch_size: Batch size of every dataloader.
        scope: Task family; defaults to ``cfg.default_scope``.

    Resize/crop sizes are scaled by the family's factor (``_SIZE_FACTOR``),
    or by the config's ``smoke_size_factor`` when it sets one; a config's
    ``smoke_model`` dict is merged into its model. A config
    without ``val_dataloader`` (self-supervised pretraining) only trains;
    ``AmpOptimWrapper`` becomes ``OptimWrapper`` (AMP needs an accelerator).
    """
    cfg = copy.deepcopy(cfg)
    scope = scope or cfg.get('default_scope', 'mmpretrain')
    # a config whose model needs larger inputs than the family's factor
    # gives (e.g. a loss over a grid of cells of the last feature map) sets
    # its own factor with the top-level key ``smoke_size_factor``
    factor = cfg.get('smoke_size_factor', _SIZE_FACTOR.get(scope, 32 / 224))
    # a config whose model is too big for a seconds-long run (GFNet: two
    # ResNet-50 encoders and a 38M-parameter policy per stage) names the
    # changes that make it small with the top-level key ``smoke_model``
    _merge_smoke_model(cfg)
    cfg.work_dir = work_dir
    # self-supervised pretraining configs have no validation
    evaluated = cfg.get('val_dataloader') is not None
    splits = ('train', 'val', 'test') if evaluated else ('train', )
    if evaluated:
        cfg.test_dataloader = copy.deepcopy(cfg.val_dataloader)
        cfg.test_evaluator = copy.deepcopy(cfg.val_evaluator)
    whole_splits = _shrink_meta_loops(cfg) if evaluated else set()
    for split in splits:
        loader = cfg[f'{split}_dataloader']
        loader.batch_size = batch_size
        loader.num_workers = 0
        loader.persistent_workers = False
        _shrink_dataset(loader.dataset, data_dir, factor,
                        None if split in whole_splits else num_samples)
        if split in whole_splits:
            # one feature pass over the whole split: large batches
            loader.batch_size = 64
        if loader.get('sampler', {}).get('type') == 'InfiniteSampler':
            # iteration-based configs: one finite epoch instead
            loader.sampler = dict(type='DefaultSampler', shuffle=True)
    # test clips are capped at 3 frames above, but a model with a fixed
    # number of frames per view cannot take fewer
    frames = _frames_per_view(cfg.model)
    if frames is not None:
        for split in splits[1:]:
            _visit_dicts(cfg[f'{split}_dataloader'],
                         partial(_set_test_clips, num_clips=frames))
    for split in splits[1:]:
        evaluators = cfg[f'{split}_evaluator']
        for ev in evaluators if isinstance(evaluators, list) else [evaluators]:
            if 'ann_file' in ev:
                ev['ann_file'] = _reroot(ev['ann_file'], data_dir)
    _visit_dicts(cfg.model, _drop_pretrained)
    _visit_dicts(cfg.model, partial(_tiny_open_clip, factor=factor))
    _visit_dicts(cfg.model, _keep_all_detections)
    _visit_dicts(cfg.model, _few_proposals)
    # episodic training keeps its loop (it checks the episodic dataset)
    train_loop = cfg.train_cfg.get('type', 'EpochBasedTrainLoop')
    cfg.train_cfg = dict(
        type=train_loop if train_loop == 'MetaTrainLoop' else
        'EpochBasedTrainLoop',
        max_epochs=1)
    if evaluated:
        cfg.train_cfg['val_interval'] = 1
    cfg.param_scheduler = []
    if cfg.optim_wrapper.get('type') == 'AmpOptimWrapper':
        # mmengine's AMP wrapper needs an accelerator; smoke runs are CPU
        cfg.optim_wrapper.type = 'OptimWrapper'
        cfg.optim_wrapper.pop('loss_scale', None)
    if cfg.optim_wrapper.get('clip_grad') is None:
        # randomly initialised detectors fed Caffe-style inputs (mean
        # subtraction only) can diverge in their first steps without the
        # warm-up smoke runs drop; a bounded step keeps the outputs finite
        cfg.optim_wrapper.clip_grad = dict(max_norm=10.0)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    cfg.pop('auto_scale_lr', None)
    cfg.load_from = None
    cfg.resume = False
    cfg.randomness = dict(seed=0)
    cfg.env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'),
                       mp_cfg=dict(mp_start_method='fork'))
    return cfg
