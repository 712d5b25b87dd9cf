"""The multi-exit protocol and its drivers on a toy model
(``tests/multi_exit_toy.py``): every-step predictions against the toy's
layers applied by hand, and real early exit (a shrinking batch) against
every-step predictions and a per-sample loop."""
import pytest
import torch
import torch.nn.functional as F
from multi_exit_toy import ToyMultiExitClassifier
from torch import nn

from mmext.models.utils.multi_exit import (MultiExitMixin, all_steps_predict,
                                           early_exit_predict,
                                           exit_confidence)


@pytest.fixture
def toy():
    torch.manual_seed(0)
    model = ToyMultiExitClassifier(num_classes=5).double()
    for norm in model.norms:  # non-trivial eval statistics
        norm.running_mean.uniform_(-0.5, 0.5)
        norm.running_var.uniform_(0.5, 2.0)
    return model.eval()


def by_hand(model, x):
    """``(T, N, C)``: the toy's layers, one sample at a time."""
    out = []
    for sample in x:
        feat, hidden, logits = sample[None], None, []
        for t in range(3):
            feat = F.relu(model.norms[t](model.convs[t](feat)))
            hidden = model.gru(feat.mean(dim=(2, 3)), hidden)
            logits.append(model.heads[t](hidden)[0])
        out.append(torch.stack(logits))
    return torch.stack(out, dim=1)


def test_all_steps_predict_matches_layers_by_hand(toy):
    x = torch.randn(6, 3, 16, 16, dtype=torch.float64)
    logits = all_steps_predict(toy, x)
    assert logits.shape == (3, 6, 5)
    with torch.no_grad():
        torch.testing.assert_close(logits, by_hand(toy, x))


def test_exit_confidence_is_max_softmax():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    conf, pred = exit_confidence(logits)
    e2 = torch.exp(torch.tensor(2.0))
    torch.testing.assert_close(
        conf, torch.stack([e2 / (e2 + 2), torch.exp(torch.tensor(1.)) /
                           (1 + 2 * torch.exp(torch.tensor(1.)))]))
    assert pred[0] == 0 and pred[1] in (1, 2)


def test_early_exit_equals_all_steps_and_shrinks_the_batch(toy):
    torch.manual_seed(1)
    x = torch.randn(40, 3, 16, 16, dtype=torch.float64)
    every = all_steps_predict(toy, x)  # (T, N, C)
    conf = every.softmax(-1).max(-1)[0]
    # half-way between two samples' confidences (no sample sits on a
    # threshold): half the samples exit at step 1
    first, second = conf[0].sort()[0], conf[1].sort()[0]
    thresholds = [((first[19] + first[20]) / 2).item(),
                  ((second[29] + second[30]) / 2).item(), 0.]

    batch_sizes = []
    hook = toy.convs[0].register_forward_hook(
        lambda m, args, out: batch_sizes.append(args[0].shape[0]))
    for conv in toy.convs[1:]:
        conv.register_forward_hook(
            lambda m, args, out: batch_sizes.append(args[0].shape[0]))
    logits, steps = early_exit_predict(toy, x, thresholds)
    hook.remove()

    expected_steps, left = [], []
    for i in range(40):  # per-sample loop: first step reaching its threshold
        t = next((t for t in range(2) if conf[t, i] >= thresholds[t]), 2)
        expected_steps.append(t)
    for t in range(3):
        left.append(sum(s >= t for s in expected_steps))
    assert steps.tolist() == expected_steps
    assert batch_sizes == left  # exited samples are not computed further
    assert left[0] > left[1] > left[2] > 0
    torch.testing.assert_close(logits, every[steps, torch.arange(40)])
    assert torch.equal(logits.argmax(1), every[steps,
                                               torch.arange(40)].argmax(1))


def test_early_exit_stops_when_everyone_left(toy):
    x = torch.randn(5, 3, 16, 16, dtype=torch.float64)
    calls = []
    toy.convs[2].register_forward_hook(lambda *a: calls.append(1))
    _, steps = early_exit_predict(toy, x, [0.0, 0.0, 0.0])
    assert steps.tolist() == [0] * 5 and not calls
    _, steps = early_exit_predict(toy, x, [float('inf')] * 2 + [2.0])
    assert steps.tolist() == [2] * 5  # the last step takes everyone


class _Short(nn.Module, MultiExitMixin):
    """Claims 3 steps, yields 2; or yields wrongly shaped logits."""

    def __init__(self, bad_shape=False):
        super().__init__()
        self.bad_shape = bad_shape

    @property
    def num_steps(self):
        return 3

    def forward_steps(self, inputs):
        for _ in range(2):
            yield inputs[:1] if self.bad_shape else inputs


def test_protocol_errors(toy):
    x = torch.randn(2, 4)
    with pytest.raises(TypeError, match='MultiExitMixin'):
        all_steps_predict(nn.Linear(4, 4), x)
    with pytest.raises(ValueError, match='stopped after 2 steps'):
        all_steps_predict(_Short(), x)
    with pytest.raises(ValueError, match=r'shape \(1, 4\) at step 0'):
        early_exit_predict(_Short(bad_shape=True), x, [0.5] * 3)
    with pytest.raises(ValueError, match='thresholds has 2 values'):
        early_exit_predict(toy, torch.randn(2, 3, 8, 8).double(), [0.5] * 2)


def test_mixin_requires_the_protocol():
    class NoSteps(nn.Module, MultiExitMixin):
        pass

    with pytest.raises(TypeError, match='abstract'):
        NoSteps()
