"""AdaFocusV2 on TSM networks (Something-Something / Jester): the authors'
parameter count, the glance/focus frame sampling, training and prediction,
checkpoint mapping and bad input."""
from collections import OrderedDict

import numpy as np
import pytest
import torch
from mmaction.structures import ActionDataSample
from mmengine.registry import init_default_scope

from mmext.datasets.transforms import GlanceFocusSampleFrames
from mmext.models.recognizers.adafocus_v2_tsm import checkpoint_filter_fn
from mmext.registry import MODELS


def _build(num_classes=174, glance=8, focus=12, **kwargs):
    cfg = dict(
        type='AdaFocusV2TSM',
        num_classes=num_classes,
        glance_segments=glance,
        focus_segments=focus,
        global_backbone=dict(type='mmaction.MobileNetV2TSM',
                             num_segments=glance),
        local_backbone=dict(type='mmaction.ResNetTSM', depth=50,
                            num_segments=focus),
        policy=dict(type='AdaFocusV2MLPPolicy', state_size=7))
    cfg.update(kwargs)
    init_default_scope('mmaction')
    torch.manual_seed(0)
    return MODELS.build(cfg)


def test_parameter_count_equals_authors():
    model = _build()
    # authors' Sth-Sth V1 model (174 classes): TSN-MBv2 2,669,660 +
    # TSN-R50 24,221,084 + policy 4,396,674
    assert sum(p.numel() for p in model.parameters()) == 31_287_418
    assert sum(p.numel() for p in model.policy.parameters()) == 4_396_674
    jester = _build(num_classes=27)
    assert sum(p.numel() for p in jester.parameters()) == 30_308_398


def _small(**kwargs):
    cfg = dict(
        glance=2, focus=3, num_classes=5, patch_size=16, local_channels=512,
        global_backbone=dict(type='mmaction.MobileNetV2TSM', num_segments=2,
                             widen_factor=0.25),
        local_backbone=dict(type='mmaction.ResNetTSM', depth=18,
                            num_segments=3),
        policy=dict(type='AdaFocusV2MLPPolicy', state_size=1,
                    hidden_dims=(8, )))
    cfg.update(kwargs)
    return _build(**cfg)


def test_sampling_is_two_tsn_samplings():
    results = dict(total_frames=48, start_index=1)
    out = GlanceFocusSampleFrames(8, 12, test_mode=True)(results)
    # segment centres int(tick / 2 + tick x), tick = 48 / 8 and 48 / 12
    glance = [3 + 6 * x for x in range(8)]
    focus = [2 + 4 * x for x in range(12)]
    np.testing.assert_array_equal(out['frame_inds'],
                                  np.array(glance + focus) + 1)
    assert out['num_clips'] == 20 and out['clip_len'] == 1


def test_train_and_predict():
    model = _small().train()
    inputs = torch.randn(2, 5, 3, 32, 32)
    samples = [ActionDataSample().set_gt_label(torch.tensor([c]))
               for c in (1, 4)]
    losses = model(inputs, samples, mode='loss')
    assert set(losses) == {'loss_cls', 'loss_global', 'loss_local'}
    sum(losses.values()).backward()
    for part in ('global_backbone', 'local_backbone', 'policy', 'global_fc',
                 'local_fc', 'global_aux_fc', 'local_aux_fc'):
        assert any(p.grad is not None and p.grad.abs().sum() > 0
                   for p in getattr(model, part).parameters()), part
    model.eval()
    two_views = torch.randn(1, 10, 3, 32, 32)
    with torch.no_grad():
        both = model(two_views)
        each = [model(two_views[:, :5]), model(two_views[:, 5:])]
    torch.testing.assert_close(both, (each[0] + each[1]) / 2)
    out = model(two_views, [ActionDataSample()], mode='predict')
    assert out[0].pred_score.shape == (5, )


def test_checkpoint_mapping_in_authors_layout():
    model = _small()
    own = model.state_dict()
    # the authors' layout: TSN wrappers with a 'module.' prefix
    names = {'global_backbone': 'global_CNN.base_model',
             'global_fc': 'global_CNN.new_fc',
             'global_aux_fc': 'global_CNN.new_new_fc',
             'local_backbone': 'local_CNN.base_model',
             'local_fc': 'local_CNN.new_fc',
             'local_aux_fc': 'local_CNN.new_new_fc', 'policy': 'policy_stn'}
    authors = OrderedDict()
    for i, (key, value) in enumerate(own.items()):
        part, rest = key.split('.', 1)
        authors[f'module.{names[part]}.x{i}.{rest}'] = torch.full_like(
            value, i)
    mapped = checkpoint_filter_fn(authors, model)
    assert list(mapped) == list(own)
    for i, value in enumerate(mapped.values()):
        assert torch.equal(value, torch.full_like(value, i))
    authors.popitem()
    with pytest.raises(ValueError, match="'policy_stn' has"):
        checkpoint_filter_fn(authors, model)


def test_bad_input_names_the_key():
    model = _small().eval()
    with pytest.raises(ValueError, match='model.patch_size=16'):
        model(torch.randn(1, 5, 3, 8, 8))
    with pytest.raises(ValueError, match='model.glance_segments=2'):
        model(torch.randn(1, 4, 3, 32, 32))
