"""Up-front validation of a training/testing config.

Problems that would otherwise surface as a deep traceback (or, worse, train
on the wrong thing) are reported once, naming the config key and what was
expected: a value of the wrong type, an unregistered ``type`` (mmcv plugin
entries included), a missing data root, annotation file or ``data_prefix``
folder, a missing, truncated or non-checkpoint ``load_from`` file.

:mod:`mmext.utils.runner_check` runs these checks for every mmengine runner.
"""
import difflib
import os.path as osp
from typing import Any, Dict, Iterator, List, Optional, Tuple

from mmengine.config import Config, ConfigDict
from mmengine.registry import DATASETS, MODELS, TRANSFORMS, DefaultScope

from .compat import CheckpointError, safe_torch_load

_NUMBER = (int, float)
#: Well-known keys and the types they must have (``None`` allowed where the
#: key is optional).
KEY_TYPES: Dict[str, Tuple[type, ...]] = {
    'train_dataloader.batch_size': (int, ),
    'val_dataloader.batch_size': (int, ),
    'test_dataloader.batch_size': (int, ),
    'train_dataloader.num_workers': (int, ),
    'val_dataloader.num_workers': (int, ),
    'test_dataloader.num_workers': (int, ),
    'train_cfg.max_epochs': (int, ),
    'train_cfg.max_iters': (int, ),
    'train_cfg.val_interval': (int, ),
    'optim_wrapper.optimizer.lr': _NUMBER,
    'optim_wrapper.optimizer.weight_decay': _NUMBER,
    'optim_wrapper.optimizer.momentum': _NUMBER,
    'default_hooks.checkpoint.interval': (int, ),
    'default_hooks.logger.interval': (int, ),
    'randomness.seed': (int, type(None)),
    'load_from': (str, type(None)),
    'work_dir': (str, ),
    'model.head.num_classes': (int, ),
    'model.backbone.depth': (int, ),
}


class ConfigError(ValueError):
    """A config value has the wrong type or names something unknown."""


def _get(cfg: Any, dotted: str) -> Tuple[bool, Any]:
    node = cfg
    for part in dotted.split('.'):
        if not isinstance(node, (dict, Config)) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _where(filename: Optional[str]) -> str:
    return f' (in {filename})' if filename else ''


def check_key_types(cfg: Config, filename: Optional[str] = None) -> None:
    """Raise :class:`ConfigError` for a well-known key of the wrong type."""
    for key, types in KEY_TYPES.items():
        found, value = _get(cfg, key)
        if not found:
            continue
        ok = isinstance(value, types) and not (
            isinstance(value, bool) and bool not in types)
        if not ok:
            names = ' or '.join(
                'None' if t is type(None) else t.__name__ for t in types)
            raise ConfigError(
                f'config key {key!r} must be {names}, got '
                f'{type(value).__name__} {value!r}{_where(filename)}')


def _dataset_nodes(cfg: Config) -> Iterator[Tuple[str, dict]]:
    """``(key, dataset_cfg)`` for every dataset, wrappers included."""
    stack: List[Tuple[str, Any]] = []
    for split in ('train', 'val', 'test'):
        found, ds = _get(cfg, f'{split}_dataloader.dataset')
        if found:
            stack.append((f'{split}_dataloader.dataset', ds))
    while stack:
        key, node = stack.pop(0)
        if not isinstance(node, dict):
            continue
        yield key, node
        if isinstance(node.get('dataset'), dict):
            stack.append((f'{key}.dataset', node['dataset']))
        for i, sub in enumerate(node.get('datasets', None) or []):
            stack.append((f'{key}.datasets[{i}]', sub))


def _local(path: Any) -> bool:
    """Whether ``path`` is a non-empty local path (not a URL)."""
    return isinstance(path, str) and bool(path) and '://' not in path


def _prefixes(ds: dict) -> Iterator[Tuple[str, str]]:
    """``(key, folder)`` for each ``data_prefix`` entry of a dataset, joined
    with ``data_root`` as mmengine's ``BaseDataset`` joins them."""
    prefix = ds.get('data_prefix')
    items = prefix.items() if isinstance(prefix, dict) else [(None, prefix)]
    for name, folder in items:
        if _local(folder):
            key = 'data_prefix' + (f'.{name}' if name is not None else '')
            yield key, _join_root(ds.get('data_root'), folder)


def _join_root(root: Any, path: str) -> str:
    return path if osp.isabs(path) or not _local(root) else osp.join(
        root, path)


def _check_load_from(load_from: Any, filename: Optional[str]) -> None:
    if not _local(load_from):
        return
    if not osp.isfile(osp.expanduser(load_from)):
        raise FileNotFoundError(
            f'config key load_from: checkpoint {load_from!r} does not '
            f'exist{_where(filename)}')
    try:
        # 'meta': the structure is unpickled, no tensor data is read
        checkpoint = safe_torch_load(load_from, map_location='meta')
    except CheckpointError as e:
        raise CheckpointError(
            f'config key load_from: {e}{_where(filename)}') from e
    if not isinstance(checkpoint, dict):
        raise CheckpointError(
            f'config key load_from: {load_from!r} holds a '
            f'{type(checkpoint).__name__}, not a checkpoint (a dict of '
            f'tensors or with a state_dict){_where(filename)}')


def check_paths(cfg: Config, filename: Optional[str] = None) -> None:
    """Raise ``FileNotFoundError`` for a ``load_from`` checkpoint, data
    root, annotation file or ``data_prefix`` folder that does not exist, and
    :class:`~mmext.utils.CheckpointError` for a ``load_from`` file that is
    truncated or not a checkpoint (the checkpoint first: ``tools/test.py``'s
    main argument)."""
    _check_load_from(cfg.get('load_from'), filename)
    for key, ds in _dataset_nodes(cfg):
        root = ds.get('data_root')
        if _local(root) and not osp.isdir(root):
            raise FileNotFoundError(
                f'config key {key}.data_root: directory {root!r} does not '
                f'exist{_where(filename)}. Prepare the dataset there (see '
                'the config folder README) or override it with '
                f'--cfg-options {key}.data_root=PATH')
        ann = ds.get('ann_file')
        if _local(ann) and not osp.isfile(_join_root(root, ann)):
            raise FileNotFoundError(
                f'config key {key}.ann_file: file {_join_root(root, ann)!r} '
                f'does not exist{_where(filename)}')
        for prefix_key, folder in _prefixes(ds):
            if not osp.isdir(folder):
                raise FileNotFoundError(
                    f'config key {key}.{prefix_key}: directory {folder!r} '
                    f'does not exist{_where(filename)}')


def _check_type(registry, key: str, node: Any, filename: Optional[str]):
    if not isinstance(node, dict) or not isinstance(node.get('type'), str):
        return
    scope = DefaultScope.get_current_instance()
    scope_name = scope.scope_name if scope is not None else None
    with registry.switch_scope_and_registry(scope_name) as reg:
        name = node['type']
        if reg.get(name) is not None:
            return
        known, node_reg = set(), reg
        while node_reg is not None:
            known |= set(node_reg.module_dict)
            node_reg = node_reg.parent
    close = difflib.get_close_matches(name, sorted(known), n=3)
    hint = f'; did you mean {", ".join(map(repr, close))}?' if close else ''
    raise ConfigError(
        f'config key {key}.type: {name!r} is not a registered '
        f'{registry.name} in scope {reg.scope!r}{hint}'
        f'{_where(filename)}')


def _plugin_cfgs(node: Any, key: str) -> Iterator[Tuple[str, Any]]:
    """``(key, cfg)`` of every mmcv plugin entry
    (``plugins=[dict(cfg=dict(type=...), position=...)]``) under ``node``."""
    if isinstance(node, dict):
        for i, plugin in enumerate(node.get('plugins', None) or []):
            if isinstance(plugin, dict):
                yield f'{key}.plugins[{i}].cfg', plugin.get('cfg')
        for name, value in node.items():
            yield from _plugin_cfgs(value, f'{key}.{name}')
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _plugin_cfgs(value, f'{key}[{i}]')


def check_types(cfg: Config, filename: Optional[str] = None) -> None:
    """Raise :class:`ConfigError` for an unregistered component ``type``.

    Checked: the model and its backbone/neck/head, the mmcv plugin entries
    anywhere in the model, each dataset and each pipeline transform. Call
    inside the config's default scope.
    """
    model = cfg.get('model')
    _check_type(MODELS, 'model', model, filename)
    if isinstance(model, dict):
        for part in ('backbone', 'neck', 'head', 'rpn_head', 'roi_head',
                     'cls_head', 'data_preprocessor'):
            _check_type(MODELS, f'model.{part}', model.get(part), filename)
    for key, plugin in _plugin_cfgs(model, 'model'):
        _check_type(MODELS, key, plugin, filename)
    for key, ds in _dataset_nodes(cfg):
        _check_type(DATASETS, key, ds, filename)
        for i, t in enumerate(ds.get('pipeline', None) or []):
            _check_type(TRANSFORMS, f'{key}.pipeline[{i}]', t, filename)


def check_config(cfg: Config, filename: Optional[str] = None) -> None:
    """Run every check; see the module docstring."""
    if not isinstance(cfg, (Config, ConfigDict, dict)):
        raise ConfigError(f'expected a Config, got {type(cfg).__name__}')
    check_key_types(cfg, filename)
    check_types(cfg, filename)
    check_paths(cfg, filename)
