"""check_config on small configs: mmcv plugin types, ``data_prefix``
folders and ``load_from`` files, each checked against files and folders the
test makes (or leaves out)."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope

import mmext  # noqa: F401
from mmext.utils import CheckpointError, ConfigError, check_config


def _plugins(*types):
    return [
        dict(cfg=dict(type=t, kernel_size=3), position='after_conv3')
        for t in types
    ]


def _check_in(scope, cfg):
    with DefaultScope.overwrite_default_scope(scope):
        check_config(cfg, 'cfg.py')


def test_plugin_type_in_backbone():
    cfg = dict(model=dict(
        type='RetinaNet',
        backbone=dict(type='ResNet', depth=50,
                      plugins=_plugins('ECALayer', 'ECALayr'))))
    with pytest.raises(ConfigError,
                       match=r"^config key model\.backbone\.plugins\[1\]\."
                       r"cfg\.type: 'ECALayr' is not a registered model in "
                       r"scope 'mmdet'; did you mean 'ECALayer'"):
        _check_in('mmdet', cfg)
    cfg['model']['backbone']['plugins'] = _plugins('ECALayer')
    _check_in('mmdet', cfg)


def test_plugin_type_in_nested_model():
    """A distiller's student backbone (a model config inside the model)."""
    cfg = dict(model=dict(
        type='KDDistiller',
        student=dict(backbone=dict(type='ResNet', plugins=_plugins('ECA')))))
    with pytest.raises(ConfigError,
                       match=r"^config key model\.student\.backbone\."
                       r"plugins\[0\]\.cfg\.type: 'ECA' is not"):
        _check_in('mmdet', cfg)


def _dataset(root, **kwargs):
    return dict(val_dataloader=dict(dataset=dict(
        type='RepeatDataset', times=2,
        dataset=dict(type='CustomDataset', data_root=str(root), **kwargs))))


@pytest.mark.parametrize('data_prefix,key,missing', [
    ('train', 'data_prefix', 'train'),
    (dict(img_path='images'), 'data_prefix.img_path', 'images'),
    (dict(img='', video='videos_val'), 'data_prefix.video', 'videos_val'),
])
def test_data_prefix_folder(tmp_path, data_prefix, key, missing):
    cfg = _dataset(tmp_path, data_prefix=data_prefix)
    with pytest.raises(FileNotFoundError) as excinfo:
        _check_in('mmpretrain', cfg)
    path = osp.join(str(tmp_path), missing)
    assert str(excinfo.value) == (
        f'config key val_dataloader.dataset.dataset.{key}: directory '
        f'{path!r} does not exist (in cfg.py)')
    (tmp_path / missing).mkdir()
    _check_in('mmpretrain', cfg)


def test_data_prefix_absolute_and_url(tmp_path):
    videos = tmp_path / 'videos'
    cfg = _dataset(tmp_path / 'root', data_prefix=dict(video=str(videos)))
    (tmp_path / 'root').mkdir()
    with pytest.raises(FileNotFoundError, match=repr(str(videos))):
        _check_in('mmpretrain', cfg)
    videos.mkdir()
    _check_in('mmpretrain', cfg)
    _check_in('mmpretrain',
              _dataset(tmp_path / 'root', data_prefix='s3://bucket/train'))


def _checkpoint(path):
    torch.save(dict(state_dict=dict(w=torch.randn(64, 64)),
                    meta=dict(epoch=np.int64(3), seed=np.array([1, 2]))),
               path)
    return str(path)


def test_load_from_valid(tmp_path):
    check_config(dict(load_from=_checkpoint(tmp_path / 'ok.pth')))


def test_load_from_truncated(tmp_path):
    path = _checkpoint(tmp_path / 'cut.pth')
    data = open(path, 'rb').read()
    open(path, 'wb').write(data[:len(data) // 2])
    with pytest.raises(CheckpointError,
                       match=r"^config key load_from: checkpoint '.*cut\.pth'"
                       r' is truncated or not a PyTorch checkpoint .*'
                       r'\(in cfg\.py\)$'):
        check_config(dict(load_from=path), 'cfg.py')


def test_load_from_not_a_checkpoint(tmp_path):
    text = tmp_path / 'notes.pth'
    text.write_text('not a checkpoint\n')
    with pytest.raises(CheckpointError,
                       match=r"^config key load_from: checkpoint '.*notes"):
        check_config(dict(load_from=str(text)))
    matrix = tmp_path / 'matrix.pth'
    torch.save(torch.eye(3), matrix)  # a tensor file, not a checkpoint
    with pytest.raises(CheckpointError,
                       match=r'holds a Tensor, not a checkpoint'):
        check_config(dict(load_from=str(matrix)))


def test_load_from_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'load_from.*gone\.pth'):
        check_config(dict(load_from=str(tmp_path / 'gone.pth')))
