"""tools/analysis_tools/vis_gfnet_patches.py draws one panel per step of a
small random GFNet; GFNet.locate gives the corners of the patches the
steps read."""
import importlib.util
import os.path as osp

import mmcv
import numpy as np
import torch
from mmengine.config import Config

from mmext.models.utils import all_steps_predict

SCRIPT = osp.join(
    osp.dirname(__file__), '..', '..', 'tools', 'analysis_tools',
    'vis_gfnet_patches.py')
spec = importlib.util.spec_from_file_location('vis_gfnet_patches', SCRIPT)
vis = importlib.util.module_from_spec(spec)
spec.loader.exec_module(vis)

ENCODER = dict(
    type='mmpretrain.ImageClassifier',
    backbone=dict(type='mmpretrain.ResNet', depth=18, stem_channels=8,
                  base_channels=8),
    neck=dict(type='mmpretrain.GlobalAveragePooling'),
    head=dict(type='mmpretrain.LinearClsHead', num_classes=5,
              in_channels=64))


def test_draws_every_step(tmp_path, capsys):
    config = str(tmp_path / 'gfnet_tiny.py')
    Config(dict(model=dict(
        type='GFNet', patch_size=32, num_steps=3, stage=3,
        global_encoder=ENCODER,
        classifier=dict(type='GFNetHead', in_channels=64, num_classes=5,
                        hidden_dim=16),
        policy=dict(type='GFNetPolicy', in_channels=64, encoder='conv',
                    hidden_dim=8)))).dump(config)
    images = []
    for i, shape in enumerate([(80, 100, 3), (120, 90, 3)]):
        path = str(tmp_path / f'img{i}.png')
        mmcv.imwrite(np.random.randint(0, 255, shape, dtype=np.uint8), path)
        images.append(path)
    out = str(tmp_path / 'out')
    assert vis.main([config, *images, '--out', out, '--size', '64']) == 0
    for i in range(2):
        assert osp.getsize(osp.join(out, f'img{i}.png')) > 0
    assert 'step 3' in capsys.readouterr().out

    model, classes = vis.build_model(config, None)
    assert classes is None
    x = torch.randn(2, 3, 64, 64)
    logits, corners = model.locate(x)
    assert corners.shape == (2, 2, 2)
    assert ((corners >= 0) & (corners <= 32)).all()
    assert torch.allclose(logits, all_steps_predict(model, x), atol=1e-5)
