"""Budgeted batch classification (MSDNet's protocol) and MultiExitAccuracy:
threshold fitting against the requested exit fractions and against a
literal loop of the authors' procedure, metrics against hand computation on
tiny logits."""
import math

import numpy as np
import pytest
import torch
from mmengine.registry import METRICS

import mmext  # noqa: F401
from mmext.evaluation import (P_VALUES, anytime_accuracy, evaluate_thresholds,
                              exit_steps, fit_thresholds,
                              geometric_exit_fractions)


def authors_fit(conf, q):
    """MSDNet / GFNet ``dynamic_find_threshold`` as a literal loop: walk the
    samples by decreasing confidence, count those not filtered yet, take the
    confidence of the ``floor(n q_t)``-th; filter all that reach it."""
    steps, n = conf.shape
    order = np.argsort(-conf, axis=1, kind='stable')
    filtered = np.zeros(n, dtype=bool)
    thr = [1e8] * steps
    for t in range(steps - 1):
        out_n, count = math.floor(n * q[t]), 0
        for i in order[t]:
            if not filtered[i]:
                count += 1
                if count == out_n:
                    thr[t] = conf[t, i]
                    break
        filtered |= conf[t] >= thr[t]
    thr[-1] = -1e8
    return np.array(thr)


def first_exit(conf, thr):
    """Per-sample loop: the first step whose confidence reaches its
    threshold, else the last."""
    steps = conf.shape[0]
    return np.array([
        next((t for t in range(steps - 1) if conf[t, i] >= thr[t]),
             steps - 1) for i in range(conf.shape[1])
    ])


def test_p_values_and_geometric_fractions():
    assert P_VALUES[0] == 0.05 and P_VALUES[-1] == 1.95
    assert len(P_VALUES) == 39
    np.testing.assert_allclose(
        geometric_exit_fractions(0.5, 3), [4 / 7, 2 / 7, 1 / 7])
    np.testing.assert_allclose(geometric_exit_fractions(1, 4), [0.25] * 4)
    with pytest.raises(ValueError, match='p must be'):
        geometric_exit_fractions(0, 3)
    with pytest.raises(ValueError, match='num_steps must be'):
        geometric_exit_fractions(0.5, 0)


@pytest.mark.parametrize('num_steps', [2, 4, 5])
def test_fitted_thresholds_give_the_requested_fractions(num_steps):
    rng = np.random.default_rng(num_steps)
    n = 997
    conf = rng.uniform(0.1, 1.0, size=(num_steps, n))  # no ties
    for p in P_VALUES:
        q = geometric_exit_fractions(p, num_steps)
        thr = fit_thresholds(conf, q)
        counts = np.bincount(first_exit(conf, thr), minlength=num_steps)
        expected = [math.floor(n * q[t]) for t in range(num_steps - 1)]
        assert counts[:-1].tolist() == expected, p
        assert counts[-1] == n - sum(expected)
        assert thr[-1] == -np.inf


def test_fit_thresholds_equals_the_authors_loop_with_ties():
    rng = np.random.default_rng(0)
    # confidences on a coarse grid: many ties, steps that take more than
    # floor(n q_t) and, at high p, steps left with too few samples
    conf = rng.integers(0, 12, size=(5, 300)) / 11.0
    for p in P_VALUES:
        q = geometric_exit_fractions(p, 5)
        ours = fit_thresholds(conf, q)
        theirs = authors_fit(conf, q)
        finite = np.abs(theirs) < 1e8
        np.testing.assert_array_equal(ours[finite], theirs[finite])
        assert np.all(ours[~finite] == np.sign(theirs[~finite]) * np.inf)
        np.testing.assert_array_equal(
            exit_steps(conf, ours), first_exit(conf, theirs))


def test_fit_thresholds_by_hand():
    conf = np.array([[0.9, 0.8, 0.8, 0.3, 0.2], [0.1, 0.2, 0.3, 0.4, 0.5],
                     [0.0, 0.0, 0.0, 0.0, 0.0]])
    # step 1: floor(5 * 0.4) = 2nd largest = 0.8, the tie takes 3 samples;
    # step 2: floor(5 * 0.2) = 1 of the 2 left (0.4, 0.5) -> 0.5
    np.testing.assert_array_equal(
        fit_thresholds(conf, [0.4, 0.2, 0.4]), [0.8, 0.5, -np.inf])
    # floor(5 * 0.1) = 0 requested: nobody exits at step 1; step 2 takes
    # the 4th largest (0.2)
    np.testing.assert_array_equal(
        fit_thresholds(conf, [0.1, 0.8, 0.1]), [np.inf, 0.2, -np.inf])
    # step 2 asks for floor(5 * 0.6) = 3 but the tie left 2: nobody exits
    np.testing.assert_array_equal(
        fit_thresholds(conf, [0.4, 0.6, 0.0]), [0.8, np.inf, -np.inf])
    with pytest.raises(ValueError, match='fractions must have one value'):
        fit_thresholds(conf, [0.5, 0.5])
    with pytest.raises(ValueError, match='fractions must be >= 0'):
        fit_thresholds(conf, [-0.1, 0.6, 0.5])
    with pytest.raises(ValueError, match='confidences must be'):
        fit_thresholds(conf[0], [1.0])


# Two steps, four samples, three classes. Softmax of [a, 0, 0] has max
# e^a / (e^a + 2): a = 2 -> 0.787, a = 1 -> 0.576, a = 0 -> 1/3.
LOGITS = np.array([
    [[2., 0., 0.], [0., 1., 0.], [0., 0., 0.5], [0., 0., 3.]],  # step 1
    [[0., 0., 1.], [0., 2., 0.], [0., 2., 0.], [0., 0., 2.]],  # step 2
])
LABELS = np.array([0, 0, 1, 2])


def test_metrics_by_hand():
    # step 1 predicts 0, 1, 2, 2 -> right for samples 0 and 3 (50 %);
    # step 2 predicts 2, 1, 1, 2 -> right for samples 2 and 3 (50 %)
    correct = np.array([[1, 0, 0, 1], [0, 0, 1, 1]], dtype=bool)
    np.testing.assert_allclose(anytime_accuracy(correct), [50., 50.])
    conf = torch.from_numpy(LOGITS).softmax(-1).max(-1)[0].numpy()
    # threshold 0.7 at step 1: samples 0 (0.787) and 3 (0.909) exit there,
    # both right; 1 and 2 go on to step 2, where 2 is right and 1 wrong
    out = evaluate_thresholds(conf, correct, [0.7, -np.inf], [10., 30.])
    assert out['accuracy'] == pytest.approx(75.0)
    assert out['exit_fractions'] == [0.5, 0.5]
    assert out['expected_cost'] == pytest.approx(0.5 * 10 + 0.5 * 30)
    # the last step takes everyone left whatever its threshold
    out = evaluate_thresholds(conf, correct, [0.95, 0.99])
    assert out['exit_fractions'] == [0.0, 1.0] and out['accuracy'] == 50.0
    assert 'expected_cost' not in out
    with pytest.raises(ValueError, match='correct has shape'):
        evaluate_thresholds(conf, correct[:, :2], [0.7, 0.0])
    with pytest.raises(ValueError, match='step_costs must have one value'):
        evaluate_thresholds(conf, correct, [0.7, 0.0], [1.0])


def _run_metric(metric, logits=LOGITS, labels=LABELS):
    samples = [
        dict(step_logits=torch.from_numpy(logits[:, i]),
             gt_label=torch.tensor([y])) for i, y in enumerate(labels)
    ]
    metric.process(None, samples[:3])
    metric.process(None, samples[3:])
    return metric.evaluate(len(samples))


def test_multi_exit_accuracy_metric_by_hand():
    metric = METRICS.build(
        dict(type='MultiExitAccuracy', thresholds=[0.7, 0.0],
             step_costs=[10, 30]))
    out = _run_metric(metric)
    assert out == pytest.approx({
        'multi_exit/top1_step1': 50.0,
        'multi_exit/top1_step2': 50.0,
        'multi_exit/budgeted_top1': 75.0,
        'multi_exit/exit_fraction_step1': 0.5,
        'multi_exit/exit_fraction_step2': 0.5,
        'multi_exit/expected_cost': 20.0,
    })
    anytime = _run_metric(METRICS.build(dict(type='MultiExitAccuracy')))
    assert set(anytime) == {'multi_exit/top1_step1', 'multi_exit/top1_step2'}
    with pytest.raises(ValueError, match='3 thresholds for samples with 2'):
        _run_metric(
            METRICS.build(
                dict(type='MultiExitAccuracy', thresholds=[0.5] * 3)))


def test_multi_exit_mean_average_precision_by_hand():
    # 4 samples, 3 classes, 2 steps. Sample 2 has labels 1 and 2 (top-1
    # counts label 1); AP ranks the samples by each class's softmax score
    logits = torch.tensor([
        [[3., 0., 0.], [0., 0., 3.]],
        [[0., 3., 0.], [0., 3., 0.]],
        [[0., 2., 1.], [0., 1., 2.]],
        [[1., 0., 2.], [3., 0., 0.]],
    ])
    labels = [[0], [1], [1, 2], [2]]
    metric = METRICS.build(dict(type='MultiExitAccuracy',
                                average_precision=True))
    metric.process(None, [
        dict(step_logits=x, gt_label=torch.tensor(y))
        for x, y in zip(logits, labels)
    ])
    out = metric.evaluate(4)
    # step 1 -- class 0: sample 0 (pos) ranks first: AP 1. Class 1:
    # samples 1, 2 (pos) rank first and second: AP 1. Class 2: samples 3,
    # 2 (pos) first and second: AP 1.
    # step 2 -- class 0: samples 3 (neg), 2 (neg), then 0 (pos) tied with
    # 1 (neg), one threshold for the tie as in sklearn: AP = 1/4. Class 1:
    # samples 1, 2 (pos) first: AP 1. Class 2: samples 0 (neg), 2 (pos),
    # then 3 (pos) tied with 1 (neg): AP = (1/2 + 2/4) / 2 = 1/2
    assert out['multi_exit/mAP_step1'] == pytest.approx(100.0)
    assert out['multi_exit/mAP_step2'] == pytest.approx(
        100 * (0.25 + 1 + 0.5) / 3)
    # every first label is the step-1 arg max; at step 2 sample 1's only
    assert out['multi_exit/top1_step1'] == pytest.approx(100.0)
    assert out['multi_exit/top1_step2'] == pytest.approx(25.0)


@pytest.mark.parametrize('kwargs, message', [
    (dict(thresholds=0.5), "thresholds=0.5 (float) is invalid"),
    (dict(thresholds=[0.5, '0.2']), "thresholds[1]='0.2' (str) is invalid"),
    (dict(thresholds=[0.5, 0.], step_costs=[1, -2]),
     'step_costs[1]=-2 (int) is invalid'),
    (dict(step_costs=[1, 2]), 'step_costs needs thresholds'),
    (dict(thresholds=[0.5, 0.], step_costs=[1]),
     'step_costs needs thresholds of the same length'),
    (dict(logits_key=3), 'logits_key=3 (int) is invalid'),
    (dict(average_precision=1), 'average_precision=1 (int) is invalid'),
    (dict(collect_device='cuda'), "collect_device='cuda' (str) is invalid"),
])
def test_multi_exit_accuracy_arguments(kwargs, message):
    with pytest.raises(ValueError) as excinfo:
        METRICS.build(dict(type='MultiExitAccuracy', **kwargs))
    assert message in str(excinfo.value)
    assert 'MultiExitAccuracy' in str(excinfo.value)


def test_multi_exit_accuracy_rejects_flat_logits():
    metric = METRICS.build(dict(type='MultiExitAccuracy'))
    with pytest.raises(ValueError, match=r"'step_logits' must be \(T, C\)"):
        metric.process(None, [dict(step_logits=torch.zeros(3),
                                   gt_label=torch.tensor([0]))])


def test_multi_exit_accuracy_in_an_evaluator():
    """The data samples of a multi-exit model's ``predict`` (the toy of
    ``tests/multi_exit_toy.py``) through mmengine's Evaluator."""
    from mmengine.evaluator import Evaluator
    from mmpretrain.structures import DataSample
    from multi_exit_toy import ToyMultiExitClassifier
    torch.manual_seed(0)
    model = ToyMultiExitClassifier(num_classes=3).eval()
    for head in model.heads:
        head.weight.data.mul_(20)
    inputs = torch.randn(12, 3, 8, 8)
    labels = torch.arange(12) % 3
    samples = [DataSample().set_gt_label(int(y)) for y in labels]
    with torch.no_grad():
        samples = model(inputs, samples, mode='predict')
    evaluator = Evaluator(dict(type='MultiExitAccuracy'))
    evaluator.process(samples)
    out = evaluator.evaluate(12)
    with torch.no_grad():
        for t in range(3):
            x = inputs
            for s in range(t + 1):  # the toy's layers, by hand
                x = torch.relu(model.norms[s](model.convs[s](x)))
                h = model.gru(x.mean((2, 3)), None if s == 0 else h)
            pred = model.heads[t](h).argmax(1)
            assert out[f'multi_exit/top1_step{t + 1}'] == pytest.approx(
                100 * (pred == labels).float().mean().item())
