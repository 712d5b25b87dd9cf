"""Up-front validation of a training/testing config.

Problems that would otherwise surface as a deep traceback (or, worse, train
on the wrong thing) are reported once, naming the config key and what was
expected: a value of the wrong type, an unregistered ``type``, a missing data
root, annotation file or ``load_from`` checkpoint.
"""
import difflib
import os.path as osp
from typing import Any, Dict, Iterator, List, Optional, Tuple

from mmengine.config import Config, ConfigDict
from mmengine.registry import DATASETS, MODELS, TRANSFORMS, DefaultScope

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


def check_paths(cfg: Config, filename: Optional[str] = None) -> None:
    """Raise ``FileNotFoundError`` for a data root, annotation file or
    ``load_from`` checkpoint that does not exist."""
    for key, ds in _dataset_nodes(cfg):
        root = ds.get('data_root')
        if isinstance(root, str) and root and '://' not in root \
                and not osp.isdir(root):
            raise FileNotFoundError(
                f'config key {key}.data_root: directory {root!r} does not '
                f'exist{_where(filename)}. Prepare the dataset there (see '
                'the config folder README) or override it with '
                f'--cfg-options {key}.data_root=PATH')
        ann = ds.get('ann_file')
        if isinstance(ann, str) and ann and '://' not in ann:
            path = ann if osp.isabs(ann) or not root else osp.join(root, ann)
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'config key {key}.ann_file: file {path!r} does not '
                    f'exist{_where(filename)}')
    load_from = cfg.get('load_from')
    if isinstance(load_from, str) and '://' not in load_from and \
            not osp.isfile(osp.expanduser(load_from)):
        raise FileNotFoundError(
            f'config key load_from: checkpoint {load_from!r} does not '
            f'exist{_where(filename)}')


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


def check_types(cfg: Config, filename: Optional[str] = None) -> None:
    """Raise :class:`ConfigError` for an unregistered component ``type``.

    Checked: the model and its backbone/neck/head, each dataset and each
    pipeline transform. Call inside the config's default scope.
    """
    model = cfg.get('model')
    _check_type(MODELS, 'model', model, filename)
    if isinstance(model, dict):
        for part in ('backbone', 'neck', 'head', 'rpn_head', 'roi_head',
                     'cls_head', 'data_preprocessor'):
            _check_type(MODELS, f'model.{part}', model.get(part), filename)
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
