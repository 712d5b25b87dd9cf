"""EEKD: attention weights against a slow loop, the ensemble KD loss and
the distiller's total loss against independent computations, frozen
teachers, uniform mode, checkpoint resolution."""
import math
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import save_checkpoint
from mmpretrain.structures import DataSample

import mmext  # noqa: F401
from mmext.models.distillers import (EEKDDistiller, EnsembleAttention,
                                     resolve_checkpoints)
from mmext.models.losses import EnsembleKDLoss
from mmext.registry import MODELS

M, C, N, TAU, ALPHA = 3, 5, 4, 5.0, 0.5


def classifier(arch, ce_weight=1.0):
    return dict(
        type='mmpretrain.ImageClassifier',
        backbone=dict(type='CIFARKDResNet', arch=arch),
        neck=dict(type='mmpretrain.GlobalAveragePooling'),
        head=dict(
            type='mmpretrain.LinearClsHead',
            num_classes=C,
            in_channels=64,
            loss=dict(type='mmpretrain.CrossEntropyLoss',
                      loss_weight=ce_weight)))


def distiller_cfg(ckpts, attention=True, **overrides):
    cfg = dict(
        type='EEKDDistiller',
        student=classifier('resnet8', ce_weight=ALPHA),
        teacher=dict(model=classifier('resnet14')),
        teacher_ckpts=ckpts,
        data_preprocessor=dict(
            type='mmpretrain.ClsDataPreprocessor', num_classes=C),
        attention=dict(type='EnsembleAttention', student_channels=64,
                       teacher_channels=64, embed_dims=16)
        if attention else None,
        ensemble_loss=dict(type='EnsembleKDLoss', tau=TAU,
                           loss_weight=1 - ALPHA))
    cfg.update(overrides)
    return cfg


@pytest.fixture(scope='module')
def snapshots(tmp_path_factory):
    """``M`` checkpoints of the teacher (different weights and BN
    statistics) in a directory, named as SnapshotHook names them."""
    init_default_scope('mmpretrain')
    root = tmp_path_factory.mktemp('snapshots')
    states = []
    for epoch in (10, 20, 30):
        torch.manual_seed(epoch)
        teacher = MODELS.build(classifier('resnet14'))
        teacher.init_weights()
        for m in teacher.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
        save_checkpoint({'state_dict': teacher.state_dict()},
                        str(root / f'snapshot_epoch_{epoch}.pth'))
        states.append(teacher.state_dict())
    return str(root), states


def batch(n=N):
    torch.manual_seed(0)
    inputs = torch.randint(0, 255, (n, 3, 32, 32)).float()
    samples = [DataSample().set_gt_label(i % C) for i in range(n)]
    return dict(inputs=list(inputs), data_samples=samples)


def slow_attention(att, feat_s, feats_t):
    """The weights by explicit loops over samples, members and dimensions,
    from the module's parameters."""

    def linear(lin, x):
        return [
            sum(lin.weight[o, i].item() * x[i] for i in range(len(x))) +
            lin.bias[o].item() for o in range(lin.weight.shape[0])
        ]

    def relu(x):
        return [max(v, 0.0) for v in x]

    n, m = feats_t.shape[:2]
    d = att.query.weight.shape[0]
    out = torch.zeros(n, m, dtype=torch.float64)
    for i in range(n):
        q = linear(att.query, relu(linear(att.proj_student[0],
                                          feat_s[i].tolist())))
        scores = []
        for j in range(m):
            k = linear(att.key, relu(linear(att.proj_teacher[0],
                                            feats_t[i, j].tolist())))
            scores.append(sum(a * b for a, b in zip(q, k)) / math.sqrt(d))
        exps = [math.exp(s - max(scores)) for s in scores]
        for j in range(m):
            out[i, j] = exps[j] / sum(exps)
    return out


def slow_ensemble_kd(preds_s, preds_t, weights, tau):
    """``tau^2 * mean_n sum_c p_E log(p_E / p_S)`` by loops."""
    n, m, c = preds_t.shape
    total = 0.0
    for i in range(n):
        zs = [preds_s[i, k].item() / tau for k in range(c)]
        log_ps = [z - math.log(sum(math.exp(v) for v in zs)) for z in zs]
        pe = [0.0] * c
        for j in range(m):
            zt = [preds_t[i, j, k].item() / tau for k in range(c)]
            norm = sum(math.exp(v) for v in zt)
            w = 1.0 / m if weights is None else weights[i, j].item()
            for k in range(c):
                pe[k] += w * math.exp(zt[k]) / norm
        total += sum(p * (math.log(p) - lp) for p, lp in zip(pe, log_ps))
    return tau**2 * total / n


def test_attention_weights_match_slow_loop():
    torch.manual_seed(1)
    att = EnsembleAttention(6, 7, embed_dims=4)
    feat_s, feats_t = torch.randn(3, 6), torch.randn(3, 4, 7)
    w = att(feat_s, feats_t)
    assert w.shape == (3, 4)
    torch.testing.assert_close(w.sum(1), torch.ones(3))
    ref = slow_attention(att, feat_s, feats_t)
    torch.testing.assert_close(w.double(), ref, rtol=1e-5, atol=1e-6)
    # feature maps are average-pooled
    maps_s, maps_t = torch.randn(3, 6, 2, 3), torch.randn(3, 4, 7, 2, 2)
    ref = slow_attention(att, maps_s.mean((2, 3)), maps_t.mean((3, 4)))
    torch.testing.assert_close(att(maps_s, maps_t).double(), ref, rtol=1e-5,
                               atol=1e-6)
    with pytest.raises(ValueError, match='feat_S'):
        att(torch.randn(3, 6), torch.randn(2, 4, 7))


@pytest.mark.parametrize('cs, ct, d, params', [
    (256, 256, 128, 98816),  # configs/eekd README: resnet32x4 -> resnet8x4
    (512, 512, 128, 164352),  # ResNet-34 -> ResNet-18
    (1280, 2048, 128, 459264),  # ResNet-50 -> MobileNetV2
])
def test_attention_parameter_count(cs, ct, d, params):
    # two projections (C -> d) and the query / key maps (d -> d), biased
    assert (cs + 1) * d + (ct + 1) * d + 2 * (d + 1) * d == params
    att = EnsembleAttention(cs, ct, embed_dims=d)
    assert sum(p.numel() for p in att.parameters()) == params


@pytest.mark.parametrize('uniform', [False, True])
def test_ensemble_kd_loss_matches_slow_loop(uniform):
    torch.manual_seed(2)
    preds_s, preds_t = torch.randn(4, 6) * 3, torch.randn(4, 3, 6) * 3
    weights = None if uniform else torch.rand(4, 3).softmax(1)
    loss = EnsembleKDLoss(tau=2.0, loss_weight=0.7)(preds_s, preds_t,
                                                    weights)
    ref = 0.7 * slow_ensemble_kd(preds_s, preds_t, weights, 2.0)
    assert loss.item() == pytest.approx(ref, rel=1e-5)
    # one teacher: Hinton KD
    kd = MODELS.build(dict(type='KDLoss', tau=2.0))(preds_s, preds_t[:, 0])
    torch.testing.assert_close(
        EnsembleKDLoss(tau=2.0)(preds_s, preds_t[:, :1]), kd)
    with pytest.raises(ValueError, match='weights must be'):
        EnsembleKDLoss()(preds_s, preds_t, torch.ones(4, 2) / 2)
    with pytest.raises(ValueError, match='preds_T must be'):
        EnsembleKDLoss()(preds_s, preds_t[:, :, :5])


def test_teachers_loaded_in_order_frozen_and_untouched(snapshots):
    root, states = snapshots
    init_default_scope('mmpretrain')
    model = MODELS.build(distiller_cfg(root))
    model.init_weights()
    assert list(model.teachers) == ['teacher0', 'teacher1', 'teacher2']
    assert [osp.basename(p) for p in model.teacher_ckpts] == [
        'snapshot_epoch_10.pth', 'snapshot_epoch_20.pth',
        'snapshot_epoch_30.pth'
    ]
    for teacher, ref in zip(model.teachers.values(), states):
        for k, v in teacher.state_dict().items():
            torch.testing.assert_close(v, ref[k], rtol=0, atol=0)

    model.train()
    assert model.student.training and model.attention.training
    assert not any(m.training for t in model.teachers.values()
                   for m in t.modules())
    optim = build_optim_wrapper(
        model, dict(optimizer=dict(type='SGD', lr=0.5, momentum=0.9)))
    att_before = model.attention.query.weight.detach().clone()
    for _ in range(2):
        log_vars = model.train_step(batch(), optim)
    for teacher, ref in zip(model.teachers.values(), states):
        assert not teacher.training
        for p in teacher.parameters():
            assert not p.requires_grad and p.grad is None
        for k, v in teacher.state_dict().items():  # weights and BN buffers
            torch.testing.assert_close(v, ref[k], rtol=0, atol=0)
    # checkpoints hold the student and the attention, not the members;
    # loading them (strictly) keeps the members loaded from teacher_ckpts
    state = model.state_dict()
    assert not any(k.startswith('teachers.') for k in state)
    assert any(k.startswith('student.') for k in state)
    assert any(k.startswith('attention.') for k in state)
    fresh = MODELS.build(distiller_cfg(root))
    fresh.load_state_dict(state, strict=True)
    for k, v in fresh.state_dict().items():
        torch.testing.assert_close(v, state[k], rtol=0, atol=0)
    for teacher, ref in zip(fresh.teachers.values(), states):
        for k, v in teacher.state_dict().items():
            torch.testing.assert_close(v, ref[k], rtol=0, atol=0)
    # the attention module is trained with the student
    assert not torch.equal(model.attention.query.weight, att_before)
    # the mean weight of each member is logged, and not part of the loss
    weights = [log_vars[f'eekd_weight_{m}'] for m in range(M)]
    assert sum(weights) == pytest.approx(1.0, abs=1e-5)


def _reference(model, data, uniform):
    """``alpha * CE + (1 - alpha) * tau^2 * KL`` from the student (train
    mode, as in the loss), the teachers and the attention, by hand."""
    inputs = data['inputs']
    labels = torch.tensor([int(ds.gt_label) for ds in data['data_samples']])
    with torch.no_grad():
        feat_s = model.student.neck(model.student.backbone(inputs))[-1]
        logits_s = model.student.head.fc(feat_s)
        feats_t, logits_t = [], []
        for t in model.teachers.values():
            f = t.neck(t.backbone(inputs))[-1]
            feats_t.append(f)
            logits_t.append(t.head.fc(f))
    feats_t, logits_t = torch.stack(feats_t, 1), torch.stack(logits_t, 1)
    weights = None if uniform else slow_attention(model.attention, feat_s,
                                                  feats_t)
    ce = F.cross_entropy(logits_s, labels).item()
    kl = slow_ensemble_kd(logits_s, logits_t, weights, TAU)
    return ALPHA * ce + (1 - ALPHA) * kl, weights


@pytest.mark.parametrize('uniform', [False, True])
def test_total_loss_matches_independent_computation(snapshots, uniform):
    root, _ = snapshots
    init_default_scope('mmpretrain')
    model = MODELS.build(distiller_cfg(root, attention=not uniform))
    model.train()
    data = model.data_preprocessor(batch(), True)
    losses = model(**data, mode='loss')
    total, _ = model.parse_losses(losses)
    ref, weights = _reference(model, data, uniform)
    assert total.item() == pytest.approx(ref, rel=1e-4)
    if uniform:
        assert model.attention is None
        assert not any(k.startswith('eekd_weight') for k in losses)
    else:
        for m in range(M):
            assert losses[f'eekd_weight_{m}'].item() == pytest.approx(
                weights[:, m].mean().item(), rel=1e-4)
    # predict mode runs the student alone
    preds = model(data['inputs'], data['data_samples'], mode='predict')
    assert len(preds) == N and preds[0].pred_score.shape == (C, )


def test_resolve_checkpoints(tmp_path):
    for name in ('snapshot_epoch_144.pth', 'snapshot_epoch_48.pth',
                 'snapshot_epoch_96.pth', 'other.pth'):
        (tmp_path / name).write_bytes(b'x')
    expected = [
        str(tmp_path / f'snapshot_epoch_{e}.pth') for e in (48, 96, 144)
    ]
    assert resolve_checkpoints(str(tmp_path)) == expected
    assert resolve_checkpoints(str(tmp_path / 'snap*_9*.pth')) == \
        expected[1:2]
    assert resolve_checkpoints(expected[::-1]) == expected[::-1]
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        resolve_checkpoints([expected[0], str(tmp_path / 'missing.pth')])
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match='no snapshot_'):
        resolve_checkpoints(str(tmp_path / 'empty'))
    with pytest.raises(FileNotFoundError, match='matches no file'):
        resolve_checkpoints(str(tmp_path / 'nothing_*.pth'))
    with pytest.raises(TypeError, match='teacher_ckpts'):
        resolve_checkpoints([])


def test_config_errors(snapshots):
    root, _ = snapshots
    init_default_scope('mmpretrain')
    with pytest.raises(ValueError, match='expected num_teachers=5'):
        EEKDDistiller(**{
            k: v
            for k, v in distiller_cfg(root, num_teachers=5).items()
            if k != 'type'
        })
    with pytest.raises(ValueError, match='num_teachers'):
        MODELS.build(distiller_cfg(None))
    # without checkpoints (smoke runs): random members, with a warning
    with pytest.warns(UserWarning, match='no teacher_ckpt'):
        model = MODELS.build(distiller_cfg(None, num_teachers=2))
    assert len(model.teachers) == 2
