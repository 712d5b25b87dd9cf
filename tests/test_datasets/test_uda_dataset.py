"""UDADataset / UDASampler / UDADataPreprocessor (mmext/datasets/
uda_dataset.py, mmext/models/multimodal/dapl.py): pairs drawn as Dassl's
two loaders draw them, labels of the target hidden in training, and the
batch layout DAPL reads."""
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmpretrain.structures import DataSample

import mmext  # noqa: F401
from mmext.datasets import UDADataset, UDASampler
from mmext.registry import MODELS


class Toy:
    """A dataset of packed samples; image ``i`` is filled with ``base + i``.
    """

    def __init__(self, n, base, classes=('a', 'b', 'c')):
        self.n, self.base = n, base
        self.metainfo = dict(classes=classes)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return dict(
            inputs=torch.full((3, 4, 4), self.base + i, dtype=torch.uint8),
            data_samples=DataSample().set_gt_label(i % 3))


def pair_dataset(n_s=5, n_t=3):
    return UDADataset(
        source=Toy(n_s, 0), target=Toy(n_t, 100), domains=('art', 'clipart'))


@pytest.mark.parametrize('length,expected', [('source', 5), ('target', 3),
                                             ('min', 3)])
def test_sampler_draws_like_two_loaders(length, expected):
    ds = pair_dataset(5, 3)
    sampler = UDASampler(ds, length=length, seed=0)
    assert len(sampler) == expected
    for epoch in range(3):
        sampler.set_epoch(epoch)
        pairs = list(sampler)
        src = [p[0] for p in pairs]
        tgt = [p[1] for p in pairs]
        assert len(pairs) == expected
        # each dataset: consecutive full shuffles (restarted when exhausted)
        for seq, n in ((src, 5), (tgt, 3)):
            for k in range(0, len(seq), n):
                chunk = seq[k:k + n]
                assert len(set(chunk)) == len(chunk)
                assert set(chunk) <= set(range(n))
    sampler.set_epoch(0)
    first = list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) != first or expected < 2


def test_sampler_is_seeded_and_shards_across_ranks(monkeypatch):
    ds = pair_dataset(7, 4)
    a = list(UDASampler(ds, seed=3))
    assert a == list(UDASampler(ds, seed=3))
    import mmext.datasets.uda_dataset as module
    shards = []
    for rank in range(2):
        monkeypatch.setattr(module, 'get_dist_info', lambda r=rank: (r, 2))
        shards.append(list(UDASampler(ds, seed=3)))
    assert [len(s) for s in shards] == [4, 4]  # 7 padded to 8
    merged = [p for pair in zip(*shards) for p in pair]
    assert merged[:7] == a


def test_pairs_mark_domains_and_hide_target_labels():
    ds = pair_dataset()
    item = ds[(1, 2)]
    src, tgt = item['data_samples']
    assert int(item['inputs'][0][0, 0, 0]) == 1
    assert int(item['inputs'][1][0, 0, 0]) == 102
    assert src.domain_id == 0 and tgt.domain_id == 1
    assert src.domain_names == tgt.domain_names == ('art', 'clipart')
    assert int(src.gt_label) == 1 and int(tgt.gt_label) == -1
    with pytest.raises(TypeError, match="UDASampler"):
        ds[0]
    # evaluation: the target alone, labels kept
    val = UDADataset(target=Toy(3, 100), domains=('art', 'clipart'))
    assert len(val) == 3
    sample = val[2]['data_samples']
    assert sample.domain_id == 1 and int(sample.gt_label) == 2
    assert val.metainfo['domains'] == ('art', 'clipart')


def test_class_lists_must_agree():
    with pytest.raises(ValueError) as e:
        UDADataset(
            source=Toy(2, 0, ('a', 'b', 'c')),
            target=Toy(2, 0, ('a', 'B', 'c')),
            domains=('x', 'y'))
    msg = str(e.value)
    assert msg.startswith('UDADataset: the classes of target differ from '
                          'those of source')
    assert "label 1: 'B' vs 'b'" in msg
    with pytest.raises(ValueError, match='UDADataset: domains='):
        UDADataset(target=Toy(2, 0), domains=('x', ))
    with pytest.raises(ValueError, match='UDASampler: dataset='):
        UDASampler(UDADataset(target=Toy(2, 0)))


def test_preprocessor_stacks_source_then_target():
    ds = pair_dataset()
    batch = pseudo_collate([ds[(0, 0)], ds[(3, 1)]])
    pre = MODELS.build(dict(type='UDADataPreprocessor'))
    out = pre(batch, training=True)
    assert out['inputs'].shape == (4, 3, 4, 4)
    assert out['inputs'][:, 0, 0, 0].tolist() == [0, 3, 100, 101]
    assert [s.domain_id for s in out['data_samples']] == [0, 0, 1, 1]
    # a plain batch passes unchanged
    val = UDADataset(target=Toy(3, 100))
    out = pre(pseudo_collate([val[0], val[1]]))
    assert out['inputs'][:, 0, 0, 0].tolist() == [100, 101]
