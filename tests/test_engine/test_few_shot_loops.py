"""MetaTestLoop's episodes on cached features equal a direct numpy
computation over the same (seed, run, index) episodes; an unsatisfiable
request names the config key."""
import types

import numpy as np
import pytest
import torch
import torch.nn as nn

from mmext.datasets.episodic import class_index, sample_episode
from mmext.engine import MetaTestLoop
from mmext.evaluation import FewShotAccuracy
from mmext.models import PrototypeHead


def _loop(feats_labels, num_shots, num_runs=2, num_episodes=7):
    loop = object.__new__(MetaTestLoop)
    loop._runner = types.SimpleNamespace(model=nn.Linear(1, 1))
    loop.num_ways, loop.num_shots, loop.num_queries = 3, num_shots, 4
    loop.num_episodes, loop.num_runs, loop.seed = num_episodes, num_runs, 11
    loop.class_index = class_index(feats_labels)
    loop.classifier = PrototypeHead()
    loop.evaluator = FewShotAccuracy()
    return loop


def _direct(feats, labels, shots, run, e):
    ep = sample_episode(class_index(labels), 3, shots, 4, 11 + run, e)
    s, q = feats[ep.support], feats[ep.query]
    protos = np.stack([s[ep.support_labels == c].mean(0) for c in range(3)])
    if shots == 1:
        scores = q @ protos.T
    else:
        scores = -((q[:, None] - protos[None])**2).sum(-1)
    return 100 * np.mean(scores.argmax(1) == ep.query_labels)


@pytest.mark.parametrize('shots', [1, 3])
def test_episodes_match_direct_computation(shots):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(5), 9)
    feats = rng.normal(size=(45, 6)) + labels[:, None] * 0.3
    loop = _loop(labels, shots)
    loop._episodes(torch.from_numpy(feats).float())
    got = loop.evaluator.results
    want = [(r, _direct(feats, labels, shots, r, e)) for r in range(2)
            for e in range(7)]
    assert [r for r, _ in got] == [r for r, _ in want]
    np.testing.assert_allclose([a for _, a in got], [a for _, a in want])


def test_request_checked_before_feature_pass():
    loop = object.__new__(MetaTestLoop)
    loop._runner = types.SimpleNamespace(model=nn.Linear(1, 1))
    labels = np.repeat(np.arange(4), 3)
    loop.dataloader = types.SimpleNamespace(
        dataset=types.SimpleNamespace(get_gt_labels=lambda: labels))
    with pytest.raises(ValueError, match=r'test_cfg \(MetaTestLoop\): '
                       r'num_ways=5, num_shots=1, num_queries=15 cannot be '
                       'satisfied: the split has 4 classes'):
        loop._setup(5, 1, 15, 10, 1, 0, None, 'float32', False)
