"""FewShotAccuracy: mean and 95% interval against a direct computation."""
import math

import numpy as np

from mmext.evaluation import FewShotAccuracy


def _direct(acc):
    mean = sum(acc) / len(acc)
    var = sum((a - mean)**2 for a in acc) / len(acc)  # population variance
    return mean, 1.96 * math.sqrt(var) / math.sqrt(len(acc))


def test_interval_one_run():
    acc = list(np.random.default_rng(0).uniform(40, 100, 37))
    metric = FewShotAccuracy()
    metric.process(None, [dict(accuracy=a, run=0) for a in acc])
    out = metric.compute_metrics(metric.results)
    mean, ci = _direct(acc)
    assert math.isclose(out['accuracy'], mean, rel_tol=1e-12)
    assert math.isclose(out['ci95'], ci, rel_tol=1e-12)
    assert out['num_episodes'] == 37
    assert 'run0_accuracy' not in out


def test_repeated_runs():
    runs = [[60.0, 80.0, 100.0], [40.0, 40.0, 70.0]]
    metric = FewShotAccuracy()
    metric.process(None, [dict(accuracy=a, run=r) for r in (0, 1)
                          for a in runs[r]])
    out = metric.compute_metrics(metric.results)
    (m0, c0), (m1, c1) = _direct(runs[0]), _direct(runs[1])
    assert math.isclose(out['run0_accuracy'], 80.0)
    assert math.isclose(out['run1_ci95'], c1)
    assert math.isclose(out['accuracy'], (m0 + m1) / 2)
    assert math.isclose(out['ci95'], (c0 + c1) / 2)
    assert math.isclose(out['std_over_runs'], abs(m0 - m1) / 2)
