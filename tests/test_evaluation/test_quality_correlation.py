"""QualityCorrelation against scipy.stats; the preference agreement
against counts done by hand."""
import math

import numpy as np
import pytest
from scipy import stats

from mmext.evaluation import (QualityCorrelation, pairwise_agreement,
                              preference_agreement)


def test_preference_agreement_by_hand():
    # agree, disagree, tie (0.5), agree (b preferred, b higher)
    assert preference_agreement([.9, .2, .5, .1], [.1, .8, .5, .7],
                                [True, True, False, False]) == 2.5 / 4
    assert math.isnan(preference_agreement([], [], []))
    with pytest.raises(ValueError, match='one length'):
        preference_agreement([1.], [1., 2.], [True])


def test_pairwise_agreement_by_hand():
    scores = [0.1, 0.4, 0.3, 0.9, 0.2]
    labels = [1, 2, 3, 3, 1]
    # all pairs with unequal labels (8 of 10): (0,1) ok, (0,2) ok, (0,3)
    # ok, (1,2) wrong, (1,3) ok, (1,4) ok, (2,4) ok, (3,4) ok -> 7 / 8
    assert pairwise_agreement(scores, labels) == 7 / 8
    # groups {0, 1, 2} and {3, 4}: (0,1) ok, (0,2) ok, (1,2) wrong,
    # (3,4) ok -> 3 / 4
    assert pairwise_agreement(scores, labels, [0, 0, 0, 1, 1]) == 3 / 4


def test_metric_matches_scipy():
    rng = np.random.default_rng(0)
    labels = rng.random(30)
    scores = labels + 0.3 * rng.standard_normal(30)
    metric = QualityCorrelation()
    metric.process(None, [
        dict(pred_score=s, gt_score=g, group=i % 3)
        for i, (s, g) in enumerate(zip(scores, labels))
    ])
    out = metric.evaluate(30)
    assert out['quality/srcc'] == pytest.approx(
        stats.spearmanr(scores, labels)[0])
    assert out['quality/plcc'] == pytest.approx(
        stats.pearsonr(scores, labels)[0])
    assert out['quality/krcc'] == pytest.approx(
        stats.kendalltau(scores, labels)[0])
    # the same 2AFC count, as a double loop
    hits = pairs = 0
    for i in range(30):
        for j in range(i + 1, 30):
            if i % 3 == j % 3:
                pairs += 1
                hits += (scores[i] - scores[j]) * (labels[i] - labels[j]) > 0
    assert out['quality/pair_agreement'] == pytest.approx(hits / pairs)


def test_metric_needs_two_samples():
    metric = QualityCorrelation()
    metric.process(None, [dict(pred_score=1., gt_score=1.)])
    with pytest.raises(ValueError, match='at least 2'):
        metric.evaluate(1)
