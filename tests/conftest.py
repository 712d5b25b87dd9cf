import os

import pytest

# Keep BLAS/OpenMP to the CI machine's 2 cores and never look for a GPU.
os.environ.setdefault('OMP_NUM_THREADS', '2')
os.environ.setdefault('CUDA_VISIBLE_DEVICES', '')

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _scopes_restored_after():
    """Yield, then drop the default scopes (mmengine's ``DefaultScope``, a
    process-wide 'latest instance') created meanwhile (a Runner's
    ``default_scope``, ``init_default_scope``) and restore the latest one."""
    from mmengine.registry import DefaultScope
    before = list(DefaultScope._instance_dict)
    yield
    instances = DefaultScope._instance_dict
    for name in list(instances):
        if name not in before:
            del instances[name]
    for name in before:
        instances.move_to_end(name)


@pytest.fixture(autouse=True)
def _isolated_default_scope():
    """Each test starts with the default scope it would have alone, so no
    test depends on the ones that ran before it."""
    yield from _scopes_restored_after()


@pytest.fixture(autouse=True, scope='module')
def _isolated_module_default_scope():
    """The same for a test module's module-scoped fixtures (e.g. a model
    trained once by a Runner for all the module's tests): their scopes do
    not outlive the module."""
    yield from _scopes_restored_after()


@pytest.fixture(scope='session')
def smoke_data(tmp_path_factory):
    """Small datasets in the real formats, written once per session.

    Layout mirrors ``data/``: ``imagenet/``, ``coco/``, ``kinetics400/``,
    ``digits/``, ``cifar100/``, ``CUB_200_2011/``, ``fgvc_aircraft/``,
    ``stanford_cars/``, ``VOCdevkit/``, ``office_home/``, ``visda17/``,
    ``domainnet/``, ``sthv1/``, ``few_shot_video/``.
    """
    from mmext.datasets import (make_aircraft_style, make_cifar100_style,
                                make_coco_style, make_cub_style, make_digits,
                                make_few_shot_video_style,
                                make_imagenet_style, make_kinetics_style,
                                make_stanford_cars_style, make_voc_style)
    from mmext.datasets.sthv1_smoke import make_sthv1_style
    from mmext.datasets.uda_smoke import (make_mini_domainnet_style,
                                          make_office_home_style,
                                          make_visda17_style)
    root = tmp_path_factory.mktemp('smoke_data')
    make_imagenet_style(str(root / 'imagenet'))
    make_coco_style(str(root / 'coco'))
    make_kinetics_style(str(root / 'kinetics400'))
    make_sthv1_style(str(root / 'sthv1'))
    make_digits(str(root / 'digits'))
    make_cifar100_style(str(root / 'cifar100'))
    make_cub_style(str(root / 'CUB_200_2011'))
    make_aircraft_style(str(root / 'fgvc_aircraft'))
    make_stanford_cars_style(str(root / 'stanford_cars'))
    make_voc_style(str(root / 'VOCdevkit'))
    make_office_home_style(str(root / 'office_home'))
    make_visda17_style(str(root / 'visda17'))
    make_mini_domainnet_style(str(root / 'domainnet'))
    make_few_shot_video_style(str(root / 'few_shot_video'))
    return str(root)


@pytest.fixture
def save_with_yacs_config(monkeypatch):
    """``save(ckpt, path, config)``: ``torch.save`` the dict ``ckpt`` with
    ``config`` (a nested dict) added under ``'config'`` as a
    ``yacs.config.CfgNode``, as the Swin-based training code of DAT and ACmix
    saves its yacs config. A stand-in ``yacs.config`` module exists only
    while saving; afterwards, for the rest of the test, ``import yacs``
    fails, as where yacs is not installed.
    """
    import sys
    import types

    import torch

    class CfgNode(dict):
        """What shapes yacs's pickle: a dict subclass (nested for
        sub-configs) whose flags live in ``__dict__``."""

        def __init__(self, init_dict: dict):
            super().__init__({
                k: CfgNode(v) if isinstance(v, dict) else v
                for k, v in init_dict.items()
            })
            self.__dict__.update({
                '__immutable__': True,
                '__deprecated_keys__': set(),
                '__renamed_keys__': {},
                '__new_allowed__': False
            })

    yacs = types.ModuleType('yacs')
    yacs.config = types.ModuleType('yacs.config')
    yacs.config.CfgNode = CfgNode
    CfgNode.__module__, CfgNode.__qualname__ = 'yacs.config', 'CfgNode'

    def save(ckpt: dict, path: str, config: dict) -> None:
        with monkeypatch.context() as m:
            m.setitem(sys.modules, 'yacs', yacs)
            m.setitem(sys.modules, 'yacs.config', yacs.config)
            torch.save(dict(ckpt, config=CfgNode(config)), path)
        monkeypatch.setitem(sys.modules, 'yacs', None)
        monkeypatch.setitem(sys.modules, 'yacs.config', None)

    return save
