"""mmext components are usable from stock mmpretrain/mmdet/mmaction2
configs through ``custom_imports``, and no mmext name collides with one of
theirs."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope, Registry
from mmengine.utils import get_installed_path, import_modules_from_strings

import mmext  # noqa: F401
from mmext import registry as mmext_registry

STOCK = {
    'mmpretrain': 'resnet/resnet50_8xb32_in1k.py',
    'mmdet': 'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
    'mmaction': ('recognition/tsn/tsn_imagenet-pretrained-r50_8xb32-1x1x3-'
                 '100e_kinetics400-rgb.py'),
}
PKG_DIST = {'mmpretrain': 'mmpretrain', 'mmdet': 'mmdet',
            'mmaction': 'mmaction2'}


def _stock_config(scope):
    root = get_installed_path(PKG_DIST[scope])
    cfg = Config.fromfile(osp.join(root, '.mim', 'configs', STOCK[scope]))
    cfg.custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
    return cfg


def _build(cfg):
    """What Runner does: honour custom_imports, build in the config's scope."""
    import_modules_from_strings(**cfg.custom_imports)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return MODELS.build(cfg.model)


def _count(module):
    return sum(p.numel() for p in module.parameters())


def test_mmpretrain_stock_config_with_eca_backbone():
    cfg = _stock_config('mmpretrain')
    cfg.model.backbone.type = 'ECAResNet'
    model = _build(cfg)
    assert type(model.backbone).__name__ == 'ECAResNet'
    assert _count(model) == 25_557_112


def test_mmdet_stock_resnet_with_eca_plugin():
    cfg = _stock_config('mmdet')
    cfg.model.backbone.init_cfg = None
    # Authors' per-stage kernel sizes for ECA-R50, as mmdet plugins.
    cfg.model.backbone.plugins = [
        dict(cfg=dict(type='ECALayer', kernel_size=k), position='after_conv3',
             stages=tuple(i == s for i in range(4)))
        for s, k in enumerate((3, 5, 5, 7))
    ]
    model = _build(cfg)
    eca = [m for m in model.backbone.modules()
           if type(m).__name__ == 'ECALayer']
    assert len(eca) == 3 + 4 + 6 + 3
    # ECA adds exactly sum(k) weights per block over the stock backbone.
    stock = _stock_config('mmdet')
    stock.model.backbone.init_cfg = None
    assert _count(model) - _count(_build(stock)) == 3 * 3 + 4 * 5 + 6 * 5 + \
        3 * 7
    model.eval()
    with torch.no_grad():
        feats = model.extract_feat(torch.rand(1, 3, 64, 64))
    assert len(feats) == 5


def test_mmaction_stock_config_with_eca_backbone():
    cfg = _stock_config('mmaction')
    cfg.model.backbone = dict(type='mmpretrain.ECAResNet', depth=50)
    model = _build(cfg)
    assert type(model.backbone).__name__ == 'ECAResNet'
    model.eval()
    with torch.no_grad():
        feats = model(torch.rand(1, 3, 3, 32, 32), mode='tensor')
        scores = model.cls_head(feats, num_segs=3)
    assert feats.shape == (3, 2048, 1, 1)
    assert scores.shape == (1, 400)


def _all_registries(root):
    stack, out = [root], []
    while stack:
        reg = stack.pop()
        out.append(reg)
        stack.extend(reg._children.values())
    return out


def _mmext_registries():
    return [getattr(mmext_registry, n) for n in mmext_registry.__all__]


@pytest.mark.parametrize('root', _mmext_registries(), ids=lambda r: r.name)
def test_no_name_collisions(root: Registry):
    import mmaction.models  # noqa: F401
    import mmdet.models  # noqa: F401
    import mmpretrain.models  # noqa: F401
    from mmaction.utils import register_all_modules as reg_action
    from mmdet.utils import register_all_modules as reg_det
    from mmpretrain.utils import register_all_modules as reg_pre
    reg_action(False)
    reg_det(False)
    reg_pre(False)
    ours = {
        name: cls
        for name, cls in root.module_dict.items()
        if getattr(cls, '__module__', '').startswith('mmext.')
    }
    for reg in _all_registries(root):
        for name, cls in reg.module_dict.items():
            if name in ours:
                assert cls is ours[name], (
                    f'mmext {root.name} {name!r} collides with '
                    f'{cls.__module__}.{cls.__qualname__} in scope '
                    f'{reg.scope!r}')
    # mmext registers nothing under a child scope of its own.
    assert 'mmext' not in root._children


def test_eca_names_registered_at_root():
    for name in ('ECALayer', 'ECAResNet', 'ECAMobileNetV2'):
        assert name in MODELS.module_dict, name
