"""AdaFocusV2 (ActivityNet / FCVID / Mini-Kinetics variant): the
differentiable crop against slicing and finite differences, the authors'
frame order and parameter count, step-wise exits against the batched
forward, the training loss and bad input."""
import pytest
import torch
from mmengine.registry import init_default_scope
from mmaction.structures import ActionDataSample

from mmext.models.recognizers.adafocus_v2 import coarse_to_fine_order
from mmext.models.utils import (all_steps_predict, bilinear_patches,
                                early_exit_predict)
from mmext.registry import MODELS


def test_crop_equals_slicing_at_integer_positions():
    torch.manual_seed(0)
    images = torch.randn(5, 3, 13, 13)
    size = 6
    corners = torch.randint(0, 13 - size + 1, (5, 2))
    centres = corners.float() + (size - 1) / 2
    patches = bilinear_patches(images, centres, size)
    for n, (r, c) in enumerate(corners.tolist()):
        torch.testing.assert_close(
            patches[n], images[n, :, r:r + size, c:c + size],
            atol=1e-5, rtol=0)  # float32 rounding of the normalised grid


def test_crop_gradient_wrt_centre_matches_finite_differences():
    torch.manual_seed(0)
    images = torch.randn(2, 2, 9, 9, dtype=torch.float64)
    weights = torch.randn(2, 2, 4, 4, dtype=torch.float64)
    centres = torch.tensor([[3.3, 4.6], [2.7, 5.2]], dtype=torch.float64,
                           requires_grad=True)

    def objective(c):
        return (bilinear_patches(images, c, 4) * weights).sum()

    objective(centres).backward()
    eps = 1e-6
    numeric = torch.zeros_like(centres)
    for n in range(2):
        for k in range(2):
            step = torch.zeros_like(centres)
            step[n, k] = eps
            with torch.no_grad():
                numeric[n, k] = (objective(centres + step) -
                                 objective(centres - step)) / (2 * eps)
    torch.testing.assert_close(centres.grad, numeric, atol=1e-7, rtol=1e-6)


def test_coarse_to_fine_order():
    # the authors' --sample order for 16 frames (research notes, Sec. 2.1)
    assert coarse_to_fine_order(16) == [
        7, 0, 15, 3, 11, 1, 5, 9, 13, 2, 4, 6, 8, 10, 12, 14
    ]
    assert sorted(coarse_to_fine_order(5)) == list(range(5))


def _full(num_classes):
    return dict(
        type='AdaFocusV2',
        num_classes=num_classes,
        global_backbone=dict(type='mmaction.MobileNetV2', out_indices=(7, )),
        local_backbone=dict(type='mmaction.ResNet', depth=50),
        policy=dict(type='AdaFocusV2Policy', state_size=7, hidden_dim=2048),
        classifier=dict(type='AdaFocusV2Head', hidden_dim=4096))


def test_parameter_count_equals_authors():
    init_default_scope('mmaction')
    model = MODELS.build(_full(200))
    # authors' models/adafocus_v2.py for ActivityNet (200 classes), without
    # the two ImageNet heads that never run (88,175,010 with them)
    assert sum(p.numel() for p in model.parameters()) == 84_845_010
    # FCVID (239 classes): 90,861,408 with the heads
    fcvid = MODELS.build(_full(239))
    assert sum(p.numel() for p in fcvid.parameters()) == 87_531_408
    parts = {
        name: sum(p.numel() for p in getattr(model, name).parameters())
        for name in ('policy', 'classifier')
    }
    assert parts == dict(policy=31_692_930, classifier=26_754_176)


def test_resnet_glance_parameter_count_equals_authors():
    # the authors' --glance_arch res50: ResNet-50 on 96-pixel frames (a
    # 2048 x 3 x 3 map), 108,332,770 with the two ImageNet heads
    init_default_scope('mmaction')
    model = MODELS.build(
        dict(
            _full(200),
            glance_size=96,
            global_channels=2048,
            global_backbone=dict(type='mmaction.ResNet', depth=50),
            policy=dict(type='AdaFocusV2Policy', state_size=3)))
    assert sum(p.numel() for p in model.parameters()) == 104_234_770


def _small(**kwargs):
    cfg = dict(
        type='AdaFocusV2',
        num_classes=5,
        num_segments=4,
        patch_size=16,
        local_channels=512,
        global_backbone=dict(
            type='mmaction.MobileNetV2', out_indices=(7, ),
            widen_factor=0.25),
        local_backbone=dict(type='mmaction.ResNet', depth=18),
        policy=dict(type='AdaFocusV2Policy', state_size=1, hidden_dim=16),
        classifier=dict(type='AdaFocusV2Head', hidden_dim=32))
    cfg.update(kwargs)
    init_default_scope('mmaction')
    torch.manual_seed(0)
    return MODELS.build(cfg)


def test_exits_equal_batched_forward():
    model = _small().eval()
    inputs = torch.randn(3, 2 * 4, 3, 32, 32)  # two views
    with torch.no_grad():
        batched = model(inputs)
    steps = all_steps_predict(model, inputs)
    assert steps.shape == (4, 3, 5)
    torch.testing.assert_close(steps, batched, atol=1e-5, rtol=1e-4)
    # a sample exits with the logits of its exit step
    thresholds = [0.21, 0.2, 0.3, float('-inf')]
    logits, exit_step = early_exit_predict(model, inputs, thresholds)
    for n in range(3):
        torch.testing.assert_close(
            logits[n], batched[exit_step[n], n], atol=1e-5, rtol=1e-4)


def test_glance_size_resizes_the_global_input():
    model = _small(glance_size=24).eval()
    seen = []
    model.global_backbone.register_forward_hook(
        lambda mod, args, out: seen.append(tuple(args[0].shape[-2:])))
    with torch.no_grad():
        model(torch.randn(1, 4, 3, 40, 40))
    assert seen == [(24, 24)]


def test_loss_trains_every_part():
    model = _small().train()
    inputs = torch.randn(2, 4, 3, 32, 32)
    samples = [ActionDataSample().set_gt_label(torch.tensor([c]))
               for c in (1, 3)]
    losses = model(inputs, samples, mode='loss')
    assert set(losses) == {'loss_cls', 'loss_global', 'loss_local'}
    sum(losses.values()).backward()
    for part in ('global_backbone', 'local_backbone', 'policy', 'classifier',
                 'global_fc', 'local_fc'):
        grads = [p.grad for p in getattr(model, part).parameters()
                 if p.grad is not None]
        assert grads and any(g.abs().sum() > 0 for g in grads), part
    # the policy learns through the crop only: its input is detached
    model.zero_grad()
    losses = model(inputs, samples, mode='loss')
    losses['loss_global'].backward()
    assert all(p.grad is None or p.grad.abs().sum() == 0
               for p in model.policy.parameters())


def test_predict_sets_step_logits():
    model = _small().eval()
    samples = [ActionDataSample().set_gt_label(torch.tensor([0]))]
    out = model(torch.randn(1, 4, 3, 32, 32), samples, mode='predict')
    assert out[0].step_logits.shape == (4, 5)


def test_bad_input_names_the_key():
    model = _small().eval()
    with pytest.raises(ValueError, match='model.patch_size=16'):
        model(torch.randn(1, 4, 3, 8, 8))
    with pytest.raises(ValueError, match='model.num_segments=4'):
        model(torch.randn(1, 3, 3, 32, 32))
    with pytest.raises(ValueError, match='num_steps=4'):  # thresholds of 3
        early_exit_predict(model, torch.randn(1, 4, 3, 32, 32), [0.5] * 3)
    with pytest.raises(ValueError, match='policy.state_size'):
        _small(policy=dict(type='AdaFocusV2Policy', state_size=2,
                           hidden_dim=16)).eval()(
                               torch.randn(1, 4, 3, 32, 32))


def test_every_frame_costs_the_same():
    from mmext.evaluation.step_cost import measure_step_costs
    model = _small()
    costs = measure_step_costs(model, torch.randn(1, 4, 3, 32, 32))
    # step t runs f_G, the policy, f_L and the classifier on frame t only
    assert costs == pytest.approx([costs[0] * t for t in range(1, 5)])
