"""Policy attribution fidelity: agreement/KL by hand, exact areas of top-k
and random masks, deletion/insertion curves of a linear toy model with a
known answer, and PolicyAttributionMetric on two hand-made samples."""
import math

import numpy as np
import pytest
import torch
from mmengine.registry import METRICS

import mmext  # noqa: F401
from mmext.evaluation import (action_fidelity, curve_auc,
                              deletion_insertion_curves, mask_coverage,
                              mask_overlap, random_masks, top_k_masks)


def test_action_fidelity_by_hand():
    ref = torch.tensor([[0.5, 0.25, 0.25], [0.2, 0.3, 0.5]]).log()
    other = torch.tensor([[0.25, 0.5, 0.25], [0.1, 0.1, 0.8]]).log()
    agree, kl = action_fidelity(ref, other)
    assert agree.tolist() == [0.0, 1.0]
    expected = [
        0.5 * math.log(2) + 0.25 * math.log(0.5),
        0.2 * math.log(2) + 0.3 * math.log(3) + 0.5 * math.log(5 / 8)
    ]
    np.testing.assert_allclose(kl.numpy(), expected, rtol=1e-6)


def test_top_k_masks_keep_the_largest():
    sal = torch.tensor([[[0.1, 0.9], [0.5, 0.3]], [[4., 3.], [2., 1.]]])
    masks = top_k_masks(sal, 2)
    assert masks.tolist() == [[[0, 1], [1, 0]], [[1, 1], [0, 0]]]


def test_random_masks_have_exactly_equal_area_and_cover_all():
    gen = torch.Generator().manual_seed(0)
    masks = random_masks((500, 3, 4, 5), 7, generator=gen)
    assert masks.shape == (500, 3, 4, 5)
    assert set(masks.unique().tolist()) == {0.0, 1.0}
    assert (masks.sum((-1, -2)) == 7).all()
    # uniform: every pixel kept with probability 7 / 20
    freq = masks.mean((0, 1))
    assert (freq - 0.35).abs().max() < 0.05


def test_mask_overlap_and_coverage_by_hand():
    masks = torch.tensor([[1., 1, 0, 0], [0, 1, 1, 1], [1, 0, 0, 0]])
    rel = torch.tensor([[1., 0, 0, 1], [0, 1, 1, 0], [0, 0, 0, 0]])
    # kept area on objects: 1/2, 2/3, 0/1; objects kept: 1/2, 2/2, 0/0
    np.testing.assert_allclose(mask_overlap(masks, rel).numpy(),
                               [0.5, 2 / 3, 0])
    cov = mask_coverage(masks, rel).numpy()
    np.testing.assert_allclose(cov[:2], [0.5, 1])
    assert np.isnan(cov[2])


def test_deletion_insertion_of_a_linear_model():
    # f(x) = sum(w * x) on x = 1: deleting the largest weights first
    w = torch.tensor([1., 4., 2., 3.])
    x = torch.ones(1, 4)
    dele, ins = deletion_insertion_curves(lambda z: (z * w).sum(1), x,
                                          w[None], num_steps=4)
    assert dele.tolist() == [[10, 6, 3, 1, 0]]
    assert ins.tolist() == [[0, 4, 7, 9, 10]]
    assert curve_auc(dele).tolist() == [(8 + 4.5 + 2 + 0.5) / 4]
    assert curve_auc(ins).tolist() == [(2 + 5.5 + 8 + 9.5) / 4]


def test_deletion_broadcasts_saliency_over_channels_and_uses_baseline():
    # (B, C, N): one saliency value per position for both channels
    x = torch.tensor([[[1., 2., 3.], [4., 5., 6.]]])
    sal = torch.tensor([[[0.0, 2.0, 1.0]]])
    seen = []

    def score(z):
        seen.append(z.clone())
        return z.sum((1, 2))

    dele, ins = deletion_insertion_curves(score, x, sal, 3, baseline=-1.)
    # deletion order: position 1, then 2, then 0; removed values become -1
    # (each removed pair of values becomes -1 + -1 = -2)
    assert dele.tolist() == [[21, 21 - (2 + 5) - 2, 21 - 7 - 9 - 4, -6]]
    assert ins.tolist() == [[-6, -4 + 7, -2 + 7 + 9, 21]]
    assert seen[2][0, :, 1].tolist() == [-1, -1]


def test_metric_by_hand():
    metric = METRICS.build(dict(type='PolicyAttributionMetric'))
    ref = torch.tensor([[2., 0.], [0., 2.]])
    same = ref.clone()
    flipped = ref.flip(-1)
    metric.process(None, [
        dict(ref_logits=ref, masked_logits=same, random_logits=flipped,
             deletion=torch.tensor([1., 0.]),
             insertion=torch.tensor([0., 1., 1.]), overlap=1.0,
             random_overlap=0.25, coverage=0.5, random_coverage=0.1),
        dict(ref_logits=ref, masked_logits=flipped, random_logits=flipped,
             deletion=torch.tensor([1., 1.]),
             insertion=torch.tensor([0., 0., 1.]), overlap=float('nan'),
             random_overlap=float('nan'), coverage=0.3,
             random_coverage=float('nan'))
    ])
    out = metric.evaluate(2)
    p = 1 / (1 + math.exp(-2))  # softmax of (2, 0)
    kl_flip = p * math.log(p / (1 - p)) + (1 - p) * math.log((1 - p) / p)
    expected = {
        'agreement': 0.5, 'kl': kl_flip / 2, 'random_agreement': 0.0,
        'random_kl': kl_flip, 'deletion_auc': 0.75,
        'insertion_auc': (0.75 + 0.25) / 2, 'overlap': 1.0,
        'random_overlap': 0.25, 'coverage': 0.4, 'random_coverage': 0.1
    }
    assert set(out) == {f'attribution/{k}' for k in expected}
    for k, v in expected.items():
        assert out[f'attribution/{k}'] == pytest.approx(v, rel=1e-12)
