"""WKD-F against a slow NumPy reference of the authors' formula, and its
wiring in KDDistiller through a ConvConnector."""
import math

import numpy as np
import pytest
import scipy.linalg
import torch
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope
from mmpretrain.structures import DataSample

import mmext  # noqa: F401
from mmext.models.losses import WKDFeatureLoss
from mmext.registry import MODELS


def np_bins(size, grid):
    """adaptive_avg_pool2d's bins: [floor(i n / g), ceil((i + 1) n / g))."""
    return [(math.floor(i * size / grid), math.ceil((i + 1) * size / grid))
            for i in range(grid)]


def reference(fs, ft, grid, ratio, eps, full):
    """Per sample and cell, loops over channels; unbiased (co)variances."""
    n, c, h, w = fs.shape
    mean_total, cov_total, cells = 0.0, 0.0, 0
    for i in range(n):
        for top, bottom in np_bins(h, grid):
            for left, right in np_bins(w, grid):
                xs = fs[i, :, top:bottom, left:right].reshape(c, -1)
                xt = ft[i, :, top:bottom, left:right].reshape(c, -1)
                mean_total += sum(
                    (xs[k].mean() - xt[k].mean())**2 for k in range(c))
                if full:
                    s1 = np.cov(xs) + eps * np.eye(c)
                    s2 = np.cov(xt) + eps * np.eye(c)
                    r2 = scipy.linalg.sqrtm(s2)
                    cov_total += np.trace(
                        s1 + s2 - 2 * scipy.linalg.sqrtm(r2 @ s1 @ r2)).real
                else:
                    cov_total += sum((np.sqrt(xs[k].var(ddof=1) + eps) -
                                      np.sqrt(xt[k].var(ddof=1) + eps))**2
                                     for k in range(c))
                cells += 1
    return ratio * mean_total / cells + cov_total / cells


def features(shape, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g) * 2 + 0.5


@pytest.mark.parametrize('covariance', ['diagonal', 'full'])
@pytest.mark.parametrize('grid,size', [(1, 4), (2, 5), (2, 4)])
def test_matches_reference(covariance, grid, size):
    fs, ft = features((3, 4, size, size), 0), features((3, 4, size, size), 1)
    full = covariance == 'full'
    loss = WKDFeatureLoss(loss_weight=0.5,
                          mean_cov_ratio=4.0,
                          grid=grid,
                          covariance=covariance,
                          eps=1e-5,
                          num_iter=20)
    got = loss(fs, ft)
    ref = 0.5 * reference(fs.double().numpy(),
                          ft.double().numpy(), grid, 4.0, 1e-5, full)
    assert got.item() == pytest.approx(ref, rel=1e-4)


def test_full_equals_diagonal_for_one_channel():
    fs, ft = features((2, 1, 6, 6), 2), features((2, 1, 6, 6), 3)
    diag = WKDFeatureLoss(covariance='diagonal', grid=2)(fs, ft)
    full = WKDFeatureLoss(covariance='full', grid=2, num_iter=20)(fs, ft)
    assert full.item() == pytest.approx(diag.item(), rel=1e-4)


def test_gradient_reaches_student_only():
    fs = features((2, 3, 4, 4), 4).requires_grad_()
    ft = features((2, 3, 4, 4), 5).requires_grad_()
    for covariance in ('diagonal', 'full'):
        loss = WKDFeatureLoss(covariance=covariance)(fs, ft)
        fs.grad = None
        loss.backward()
        assert torch.isfinite(fs.grad).all() and fs.grad.abs().sum() > 0
        assert ft.grad is None
    # identical constant maps: finite gradients (eps keeps sqrt away from 0)
    const = torch.ones(2, 3, 4, 4, requires_grad=True)
    WKDFeatureLoss()(const, torch.ones(2, 3, 4, 4)).backward()
    assert torch.isfinite(const.grad).all()


def test_weight_cosine_decay():
    loss = WKDFeatureLoss(loss_weight=0.08, weight_decay_begin_epoch=150)
    fs, ft = features((2, 3, 4, 4), 6), features((2, 3, 4, 4), 7)
    base = WKDFeatureLoss(loss_weight=1.0)(fs, ft).item()
    hub = MessageHub.get_instance('test_wkd_feature_decay')
    hub.update_info('max_epochs', 240)
    for epoch0, weight in [(149, 0.08), (194, 0.04), (239, 0.0)]:
        hub.update_info('epoch', epoch0)  # 0-based; the authors' e = +1
        assert loss(fs, ft).item() == pytest.approx(weight * base, abs=1e-7)


def test_bad_arguments():
    with pytest.raises(ValueError, match='covariance'):
        WKDFeatureLoss(covariance='spherical')
    with pytest.raises(ValueError, match='connector'):
        WKDFeatureLoss()(torch.zeros(1, 2, 4, 4), torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match='cells'):
        WKDFeatureLoss(grid=4)(torch.zeros(1, 2, 4, 4),
                               torch.zeros(1, 2, 4, 4))


def test_in_distiller_with_connector():
    init_default_scope('mmpretrain')

    def classifier(arch):
        return dict(type='mmpretrain.ImageClassifier',
                    backbone=dict(type='CIFARKDResNet', arch=arch),
                    neck=dict(type='mmpretrain.GlobalAveragePooling'),
                    head=dict(type='mmpretrain.LinearClsHead',
                              num_classes=5,
                              in_channels=64))

    with pytest.warns(UserWarning, match='teacher_ckpt'):
        model = MODELS.build(
            dict(type='KDDistiller',
                 student=classifier('resnet8'),
                 teachers=dict(teacher=dict(model=classifier('resnet14'))),
                 data_preprocessor=dict(type='mmpretrain.ClsDataPreprocessor',
                                        num_classes=5),
                 recorders=dict(student=dict(feats='backbone'),
                                teacher=dict(feats='backbone')),
                 connectors=dict(proj=dict(
                     type='ConvConnector', in_channels=64, out_channels=64)),
                 distill_losses=dict(loss_wkd_f=dict(type='WKDFeatureLoss',
                                                     loss_weight=0.08,
                                                     mean_cov_ratio=4.0)),
                 loss_inputs=dict(loss_wkd_f=dict(feats_S=dict(
                     source='student.feats.0', connector='proj'),
                                                  feats_T='teacher.feats.0'))))
    model.init_weights()
    model.train()
    inputs = torch.randint(0, 255, (4, 3, 32, 32)).float()
    data = model.data_preprocessor(
        dict(inputs=list(inputs),
             data_samples=[DataSample().set_gt_label(i) for i in range(4)]),
        True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss', 'loss_wkd_f'}
    feat_s = model.recorders['student'].get('feats')[0]
    feat_t = model.recorders['teacher'].get('feats')[0]
    proj = model.connectors['proj']
    ref = 0.08 * reference(
        proj(feat_s).detach().double().numpy(),
        feat_t.double().numpy(), 1, 4.0, 1e-5, False)
    assert losses['loss_wkd_f'].item() == pytest.approx(ref, rel=1e-4)
    losses['loss_wkd_f'].backward()
    assert proj.conv.conv.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.teachers['teacher'].parameters())


def test_full_covariance_at_the_config_shape():
    # wkd-f-fullcov: rank-deficient covariances (64 channels > 16 positions
    # here; 256 > 64 in the config) within 1e-3 of the closed form
    fs, ft = features((2, 64, 4, 4), 8), features((2, 64, 4, 4), 9)
    got = WKDFeatureLoss(covariance='full')(fs, ft)
    ref = reference(fs.double().numpy(),
                    ft.double().numpy(), 1, 2.0, 1e-5, True)
    assert got.item() == pytest.approx(ref, rel=1e-3)
