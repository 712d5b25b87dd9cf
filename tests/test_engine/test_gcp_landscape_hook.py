"""GCPLandscapeHook against the closed form of a quadratic loss, exact
restoration of weights and buffers, logging, and unchanged training."""
import glob
import json
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.logging import MessageHub, MMLogger
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.visualization import Visualizer

import mmext  # noqa: F401
from mmext.engine.hooks import GCPLandscapeHook
from mmext.registry import HOOKS

STEPS = (0.05, 0.3, 1.0)


class Quadratic(BaseModel):
    """``L(w) = 0.5 w^T A w - c^T w + mean(BN(x)^2)`` with
    ``A = x^T x / N + I`` and ``c = mean(x)`` from the batch ``x (N, n)``;
    the BN (no affine) term does not depend on ``w`` but updates running
    statistics."""

    def __init__(self, n: int = 5) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(n, dtype=torch.float64))
        self.bn = nn.BatchNorm1d(n, affine=False).double()

    def forward(self, inputs, data_samples=None, mode='loss'):
        a = inputs.T @ inputs / inputs.size(0) + torch.eye(
            inputs.size(1), dtype=inputs.dtype)
        c = inputs.mean(0)
        loss = 0.5 * self.w @ a @ self.w - c @ self.w \
            + self.bn(inputs).pow(2).mean()
        return dict(loss=loss)


class TinyNet(BaseModel):
    """Linear + BN + dropout: random masks and running statistics."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.bn = nn.BatchNorm1d(8)
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(8, 1)

    def forward(self, inputs, data_samples=None, mode='loss'):
        out = self.fc2(self.drop(torch.relu(self.bn(self.fc1(inputs)))))
        return dict(loss=out.pow(2).mean())


def _stub_runner(model, tmp_path, it=0):
    name = f'gcp_landscape_{tmp_path.name}_{it}'
    return SimpleNamespace(
        model=model,
        iter=it,
        message_hub=MessageHub.get_instance(name),
        visualizer=Visualizer.get_instance(
            name,
            vis_backends=[dict(type='LocalVisBackend')],
            save_dir=str(tmp_path)),
        logger=MMLogger.get_instance(name))


def test_registered():
    assert HOOKS.get('GCPLandscapeHook') is GCPLandscapeHook


@pytest.mark.parametrize('kwargs', [
    dict(interval=0),
    dict(interval=True),
    dict(step_sizes=()),
    dict(step_sizes=(0.1, -1.0)),
    dict(step_sizes=(float('nan'), )),
])
def test_invalid_args(kwargs):
    with pytest.raises(ValueError):
        GCPLandscapeHook(**kwargs)


def test_closed_form_and_restoration(tmp_path):
    torch.manual_seed(0)
    model = Quadratic()
    model.train()
    x = torch.randn(16, 5, dtype=torch.float64) + 1.0
    w0 = model.w.detach().clone()
    buffers0 = {k: v.clone() for k, v in model.named_buffers()}

    values = GCPLandscapeHook(step_sizes=STEPS).probe(model, dict(inputs=x))

    # Closed form: g = A w - c; L(w - eta g) = L(w) - eta g.g
    # + eta^2 / 2 g.A.g; grad L(w - eta g) - g = -eta A g.
    a = x.T @ x / 16 + torch.eye(5, dtype=torch.float64)
    c = x.mean(0)
    var = x.var(0, unbiased=False)
    bn_term = (var / (var + 1e-5)).mean()
    loss = 0.5 * w0 @ a @ w0 - c @ w0 + bn_term
    g = a @ w0 - c
    ag = a @ g
    assert values['gcp_landscape/loss'] == pytest.approx(
        loss.item(), rel=1e-12)
    assert values['gcp_landscape/grad_norm'] == pytest.approx(
        g.norm().item(), rel=1e-12)
    for eta in STEPS:
        expected = loss - eta * g @ g + 0.5 * eta**2 * g @ ag
        assert values[f'gcp_landscape/loss@{eta:g}'] == pytest.approx(
            expected.item(), rel=1e-12)
        assert values[f'gcp_landscape/grad_change@{eta:g}'] == \
            pytest.approx(eta * ag.norm().item(), rel=1e-12)
    # ||eta A g|| / (eta ||g||) is the same for every eta.
    assert values['gcp_landscape/beta_smoothness'] == pytest.approx(
        (ag.norm() / g.norm()).item(), rel=1e-12)

    assert torch.equal(model.w, w0)
    assert model.w.grad is None
    for k, v in model.named_buffers():
        assert torch.equal(v, buffers0[k]), k


def test_logged_every_interval(tmp_path):
    torch.manual_seed(0)
    model = Quadratic()
    hook = GCPLandscapeHook(interval=2, step_sizes=STEPS)
    batch = dict(inputs=torch.randn(8, 5, dtype=torch.float64))

    runner = _stub_runner(model, tmp_path, it=0)
    hook.before_train_iter(runner, 0, batch)  # iteration 1: no probe
    assert 'gcp_landscape/loss' not in runner.message_hub.log_scalars
    runner.iter = 1
    hook.before_train_iter(runner, 1, batch)  # iteration 2: probe
    expected = hook.probe(model, batch)
    scalars = runner.message_hub.log_scalars
    for key, value in expected.items():
        assert scalars[key].current() == pytest.approx(value, rel=1e-12)
    lines = [
        json.loads(line) for line in open(
            glob.glob(osp.join(str(tmp_path), '**', 'scalars.json'),
                      recursive=True)[0])
    ]
    assert len(lines) == 1 and lines[0]['step'] == 2
    for key, value in expected.items():
        assert lines[0][key] == pytest.approx(value, rel=1e-12)


def _train(tmp_path, name, hooks):
    torch.manual_seed(0)
    data = [dict(inputs=torch.randn(4)) for _ in range(16)]
    loader = torch.utils.data.DataLoader(
        data, batch_size=4, shuffle=True,
        generator=torch.Generator().manual_seed(0))
    runner = Runner(
        model=TinyNet(),
        work_dir=str(tmp_path / name),
        experiment_name=f'gcp_landscape_{tmp_path.name}_{name}',
        train_dataloader=loader,
        train_cfg=dict(by_epoch=False, max_iters=6),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        custom_hooks=hooks,
        default_hooks=dict(checkpoint=None, logger=dict(
            type='LoggerHook', interval=1)),
        randomness=dict(seed=0))
    runner.train()
    return runner


def test_training_unchanged_and_logged(tmp_path):
    plain = _train(tmp_path, 'plain', [])
    probed = _train(tmp_path, 'probed', [
        dict(type='GCPLandscapeHook', interval=2, step_sizes=STEPS)
    ])
    for (k, a), b in zip(plain.model.state_dict().items(),
                         probed.model.state_dict().values()):
        assert torch.equal(a, b), k
    path = glob.glob(
        osp.join(str(tmp_path / 'probed'), '**', 'scalars.json'),
        recursive=True)[0]
    steps = [
        line['step'] for line in map(json.loads, open(path))
        if 'gcp_landscape/loss' in line
    ]
    assert steps == [2, 4, 6]
