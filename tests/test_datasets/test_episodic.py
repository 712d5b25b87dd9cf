"""Episode sampling: no leakage, exact reproducibility, clear errors; the
few-shot split formats."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.dataset import BaseDataset
from mmpretrain.structures import DataSample

from mmext.datasets import (EpisodicDataset, EpisodicSampler,
                            FewShotImageDataset, episode_collate,
                            sample_episode)
from mmext.datasets.episodic import class_index


class _Toy(BaseDataset):
    """``n`` samples per class of ``labels``; packs the index as input."""

    def __init__(self, counts):
        self.counts = counts
        super().__init__(lazy_init=False, serialize_data=False)

    def load_data_list(self):
        return [
            dict(gt_label=int(c), idx=i)
            for i, c in enumerate(np.repeat(np.arange(len(self.counts)),
                                            self.counts))
        ]

    def get_gt_labels(self):
        return np.array([d['gt_label'] for d in self.data_list])

    def prepare_data(self, idx):
        info = self.get_data_info(idx)
        sample = DataSample().set_gt_label(info['gt_label'])
        return dict(inputs=torch.tensor([info['idx']]), data_samples=sample)


def test_episode_no_leakage_and_split_classes():
    labels = np.repeat(np.arange(8), 20)
    index = class_index(labels)
    for e in range(50):
        ep = sample_episode(index, 5, 3, 4, seed=1, episode=e)
        assert set(ep.classes) <= set(range(8))
        assert len(set(ep.classes)) == 5
        assert not set(ep.support) & set(ep.query)
        assert len(set(ep.support)) == 15 and len(set(ep.query)) == 20
        # every sample belongs to the class its episode label names
        assert (labels[ep.support] == ep.classes[ep.support_labels]).all()
        assert (labels[ep.query] == ep.classes[ep.query_labels]).all()
        assert (np.bincount(ep.support_labels) == 3).all()
        assert (np.bincount(ep.query_labels) == 4).all()


def test_episode_reproducible_from_seed_and_index():
    index = class_index(np.repeat(np.arange(10), 30))
    a = sample_episode(index, 5, 1, 15, seed=3, episode=7)
    # other episodes drawn in between change nothing
    for e in range(5):
        sample_episode(index, 5, 1, 15, seed=3, episode=e)
    b = sample_episode(index, 5, 1, 15, seed=3, episode=7)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    c = sample_episode(index, 5, 1, 15, seed=4, episode=7)
    d = sample_episode(index, 5, 1, 15, seed=3, episode=8)
    assert not np.array_equal(a.query, c.query)
    assert not np.array_equal(a.query, d.query)


def test_classes_too_small_are_never_drawn():
    # class 2 has 3 samples: cannot give 1 shot + 5 queries
    labels = np.array([0] * 10 + [1] * 10 + [2] * 3 + [3] * 10)
    index = class_index(labels)
    for e in range(30):
        ep = sample_episode(index, 3, 1, 5, 0, e)
        assert 2 not in ep.classes


@pytest.mark.parametrize('ways,shots', [(6, 1), (2, 30)])
def test_unsatisfiable_request_names_the_keys(ways, shots):
    with pytest.raises(ValueError, match=f'num_ways={ways}, '
                       f'num_shots={shots}, num_queries=5 cannot be '
                       'satisfied: the split has 5 classes'):
        EpisodicDataset(_Toy([20] * 5), num_episodes=2, num_ways=ways,
                        num_shots=shots, num_queries=5)


def test_wrapper_relabels_and_collates():
    ds = EpisodicDataset(_Toy([6] * 4), num_episodes=3, num_ways=3,
                         num_shots=2, num_queries=2, seed=5)
    items = ds[1]
    assert len(items) == 3 * 4
    ep = ds.episode(1)
    order = np.concatenate([ep.support, ep.query])
    assert [int(x['inputs']) for x in items] == order.tolist()
    labels = [int(x['data_samples'].gt_label) for x in items]
    assert labels == ep.support_labels.tolist() + ep.query_labels.tolist()
    assert [x['data_samples'].episode_support for x in items] == \
        [True] * 6 + [False] * 6
    batch = episode_collate([ds[0], ds[1]])
    assert len(batch['inputs']) == 24
    assert {s.episode_idx for s in batch['data_samples']} == {0, 1}


def test_sampler_fresh_episodes_each_epoch():
    ds = EpisodicDataset(_Toy([6] * 4), num_episodes=3, num_ways=2,
                         num_shots=1, num_queries=1)
    sampler = EpisodicSampler(ds)
    assert list(sampler) == [0, 1, 2]
    sampler.set_epoch(2)
    assert list(sampler) == [6, 7, 8] and len(sampler) == 3


def _touch(path):
    import os
    os.makedirs(osp.dirname(path), exist_ok=True)
    open(path, 'wb').close()


def test_split_formats(tmp_path):
    root = str(tmp_path)
    # csv (DeepEMD / FEAT)
    rows = ['filename,label', 'b1.jpg,n02', 'a1.jpg,n01', 'b2.jpg,n02']
    _touch(osp.join(root, 'mini', 'images', 'a1.jpg'))
    (tmp_path / 'mini' / 'split').mkdir()
    (tmp_path / 'mini' / 'split' / 'test.csv').write_text('\n'.join(rows))
    ds = FewShotImageDataset(osp.join(root, 'mini'), 'test', 'csv')
    assert ds.metainfo['classes'] == ('n02', 'n01')  # first appearance
    assert ds.get_gt_labels().tolist() == [0, 1, 0]
    # folder
    for c, n in (('z', 2), ('a', 1)):
        for i in range(n):
            _touch(osp.join(root, 'tiered', 'val', c, f'{i}.png'))
    ds = FewShotImageDataset(osp.join(root, 'tiered'), 'val', 'folder')
    assert ds.metainfo['classes'] == ('a', 'z')
    assert ds.get_gt_labels().tolist() == [0, 1, 1]
    # json (CloserLook)
    _touch(osp.join(root, 'cub', 'images', 'c7', 'x.jpg'))
    meta = dict(label_names=[f'c{i}' for i in range(10)],
                image_names=['images/c7/x.jpg', 'images/c3/y.jpg'],
                image_labels=[7, 3])
    _touch(osp.join(root, 'cub', 'images', 'c3', 'y.jpg'))
    (tmp_path / 'cub' / 'novel.json').write_text(json.dumps(meta))
    ds = FewShotImageDataset(osp.join(root, 'cub'), 'test', 'json')
    assert ds.metainfo['classes'] == ('c3', 'c7')
    assert ds.get_gt_labels().tolist() == [1, 0]


def test_missing_split_file_and_class_folder(tmp_path):
    with pytest.raises(FileNotFoundError,
                       match=r'split file .*base.json not found '
                       r"\(data_root=.*, split='train'\)"):
        FewShotImageDataset(str(tmp_path), 'train', 'json')
    meta = dict(label_names=['a'], image_names=['images/a/1.jpg'],
                image_labels=[0])
    (tmp_path / 'val.json').write_text(json.dumps(meta))
    with pytest.raises(FileNotFoundError, match=r'class folder .*images/a '
                       'not found'):
        FewShotImageDataset(str(tmp_path), 'val', 'json')
    with pytest.raises(ValueError, match='split=.trainval.'):
        FewShotImageDataset(str(tmp_path), 'trainval', 'json')


def test_video_split_and_labels(tmp_path):
    from mmext.datasets import FewShotVideoDataset
    from mmext.datasets.episodic import dataset_labels
    for c, n in (('pour', 3), ('jump', 2)):
        for i in range(n):
            _touch(str(tmp_path / 'test' / c / f'{i}.mp4'))
    ds = FewShotVideoDataset(str(tmp_path), 'test', 'folder')
    assert ds.metainfo['classes'] == ('jump', 'pour')
    assert dataset_labels(ds).tolist() == [0, 0, 1, 1, 1]
    assert ds.get_data_info(0)['filename'].endswith('jump/0.mp4')
