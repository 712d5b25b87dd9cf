"""The VOC-style smoke data: read by mmdet's VOCDataset for both years,
boxes in VOC's 1-based convention that cover the drawn shapes, VOC07
11-point evaluation runs on it."""
import os.path as osp

import mmcv
import numpy as np
import pytest
from mmengine.registry import DefaultScope

from mmext.datasets import make_voc_style


@pytest.fixture(scope='module')
def voc_root(tmp_path_factory):
    return make_voc_style(
        str(tmp_path_factory.mktemp('voc') / 'VOCdevkit'), num_images=3,
        size=64, num_classes=3)


@pytest.mark.parametrize('year', ['2007', '2012'])
def test_loads_with_mmdet(voc_root, year):
    from mmdet.datasets import VOCDataset
    with DefaultScope.overwrite_default_scope('mmdet'):
        ds = VOCDataset(
            data_root=voc_root,
            ann_file=f'VOC{year}/ImageSets/Main/trainval.txt',
            data_prefix=dict(sub_data_root=f'VOC{year}/'),
            pipeline=[])
    assert len(ds) == 3
    for i in range(3):
        info = ds.get_data_info(i)
        assert osp.isfile(info['img_path'])
        assert (info['height'], info['width']) == (64, 64)
        boxes = np.array([inst['bbox'] for inst in info['instances']])
        assert all(inst['bbox_label'] in (0, 1, 2)
                   for inst in info['instances'])
        # the drawn shapes (far from the grey noise) fill the union of the
        # boxes; after mmdet's "- 1" a box holds 0-based inclusive pixel
        # indices (rasterised ellipses and JPEG edges: 2 px tolerance)
        img = mmcv.imread(info['img_path']).astype(int)
        fg = np.abs(img - 110).max(axis=2) > 60
        ys, xs = np.nonzero(fg)
        union = boxes[:, :2].min(0).tolist() + boxes[:, 2:].max(0).tolist()
        for got, want in zip((xs.min(), ys.min(), xs.max(), ys.max()),
                             union):
            assert abs(got - want) <= 2, (got, union)


def test_voc_metric_on_ground_truth(voc_root):
    """Predicting the ground truth gives mAP 1 with the 11-point metric."""
    from mmdet.datasets import VOCDataset
    from mmdet.evaluation import VOCMetric
    with DefaultScope.overwrite_default_scope('mmdet'):
        ds = VOCDataset(
            data_root=voc_root,
            ann_file='VOC2007/ImageSets/Main/test.txt',
            data_prefix=dict(sub_data_root='VOC2007/'),
            test_mode=True,
            pipeline=[])
    metric = VOCMetric(metric='mAP', eval_mode='11points')
    metric.dataset_meta = ds.metainfo
    for i in range(len(ds)):
        insts = ds.get_data_info(i)['instances']
        boxes = np.array([x['bbox'] for x in insts], np.float32)
        labels = np.array([x['bbox_label'] for x in insts])
        gt = dict(bboxes=boxes, labels=labels,
                  bboxes_ignore=np.zeros((0, 4), np.float32),
                  labels_ignore=np.zeros((0, ), np.int64))
        metric.results.append((gt, [
            np.concatenate([boxes[labels == c], np.ones(
                ((labels == c).sum(), 1), np.float32)], 1)
            for c in range(20)
        ]))
    assert metric.compute_metrics(metric.results)['mAP'] == pytest.approx(1)


def test_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='num_classes'):
        make_voc_style(tmp_path, num_classes=21)
    with pytest.raises(ValueError, match='size'):
        make_voc_style(tmp_path, size=8)
