"""Where mmext registers its components.

mmext registers into mmengine's *root* registries. mmdet, mmpretrain and
mmaction2 registries are children of these roots and fall back to their
parent when a type name is not their own, so one registration makes a
component usable by its plain type name (``type='ECAResNet'``) under every
``default_scope``. mmcv's plugin builder (``build_plugin_layer``) also uses the
root ``MODELS``. ``tests/test_registry.py`` checks that no mmext name collides
with a name in mmengine, mmcv, mmdet, mmpretrain or mmaction2.
"""
from mmengine.registry import DATA_SAMPLERS, DATASETS, EVALUATOR, HOOKS
from mmengine.registry import LOOPS, METRICS, MODELS, OPTIM_WRAPPERS
from mmengine.registry import TRANSFORMS

__all__ = [
    'MODELS', 'DATASETS', 'TRANSFORMS', 'HOOKS', 'METRICS', 'EVALUATOR',
    'LOOPS', 'OPTIM_WRAPPERS', 'DATA_SAMPLERS'
]
