"""GFNet: real early exit against every-step inference, the training
stages, bad input (the authors' parameter counts and multiply-adds are
checked on the configs: tests/test_configs/test_gfnet_configs.py)."""
import copy

import pytest
import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import MODELS, init_default_scope
from mmpretrain.structures import DataSample

import mmext  # noqa: F401
from mmext.models.utils import all_steps_predict, early_exit_predict


def _build(cfg: dict):
    init_default_scope('mmpretrain')
    return MODELS.build(cfg)


def _tiny(**changes) -> dict:
    """ResNet-18 with 8 base channels, 32-pixel patches of 48-pixel images,
    5 classes."""
    encoder = dict(
        type='mmpretrain.ImageClassifier',
        backbone=dict(
            type='mmpretrain.ResNet', depth=18, stem_channels=8,
            base_channels=8),
        neck=dict(type='mmpretrain.GlobalAveragePooling'),
        head=dict(type='mmpretrain.LinearClsHead', num_classes=5,
                  in_channels=64))
    cfg = dict(
        type='GFNet', patch_size=32, num_steps=4, stage=3,
        global_encoder=encoder,
        classifier=dict(type='GFNetHead', in_channels=64, num_classes=5,
                        hidden_dim=16),
        policy=dict(type='GFNetPolicy', in_channels=64, encoder='conv',
                    hidden_dim=8))
    cfg.update(changes)
    return cfg


@pytest.mark.parametrize('mode', ['gru', 'cascade'])
def test_early_exit_matches_all_steps(mode):
    torch.manual_seed(0)
    changes = dict(glance_logits='encoder') if mode == 'cascade' else {}
    model = _build(_tiny(**changes))
    model.classifier = MODELS.build(
        dict(type='GFNetHead', in_channels=64, num_classes=5, mode=mode))
    model.eval()
    inputs = torch.randn(8, 3, 48, 48)
    every = all_steps_predict(model, inputs)  # (T, N, C)
    # thresholds at each step's median confidence: samples leave at every
    # step
    conf = every.softmax(-1).amax(-1)
    thresholds = conf.median(dim=1).values.tolist()
    logits, steps = early_exit_predict(model, inputs, thresholds)
    assert len(set(steps.tolist())) > 1
    expected = every[steps, torch.arange(8)]
    assert torch.allclose(logits, expected, atol=1e-5)


def _batch(num: int = 4, size: int = 48) -> dict:
    torch.manual_seed(1)
    return dict(
        inputs=list(torch.randint(0, 256, (num, 3, size, size),
                                  dtype=torch.uint8)),
        data_samples=[DataSample().set_gt_label(i % 5) for i in range(num)])


def test_stage2_trains_only_the_policy():
    model = _build(
        _tiny(stage=2, ppo_epochs=3,
              frozen=('global_encoder', 'local_encoder', 'classifier')))
    model.train()
    assert not model.local_encoder.training and model.policy.training
    before = copy.deepcopy(model.state_dict())
    optim = OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-2))
    log = model.train_step(_batch(), optim)
    assert {'loss', 'reward', 'ppo_clip_fraction'} <= set(log)
    for key, value in model.state_dict().items():
        changed = not torch.equal(value, before[key])
        # batch-norm statistics of the frozen encoders stay too
        assert changed == key.startswith('policy.'), key


def test_stage1_loss_terms():
    model = _build(_tiny(stage=1, dsn_ratio=0.0))
    data = model.data_preprocessor(_batch(), True)
    losses = model(**data, mode='loss')
    assert len(losses) == 2 * model.num_steps
    assert all(losses[f'loss_dsn_step{t}'] == 0 for t in range(1, 5))
    assert model.policy.gru.weight_ih_l0.requires_grad is False


def test_bad_input():
    with pytest.raises(ValueError, match='model.frozen'):
        _build(_tiny(stage=2, frozen=('classifier', )))
    with pytest.raises(ValueError, match="model.glance_logits='encoder'"):
        _build(_tiny(classifier=dict(type='GFNetHead', in_channels=64,
                                     mode='cascade')))
    model = _build(_tiny(patch_size=64)).eval()
    with pytest.raises(ValueError, match='model.patch_size=64'):
        model(torch.zeros(1, 3, 48, 48))
    with pytest.raises(ValueError, match='thresholds has 2 values'):
        early_exit_predict(model, torch.zeros(1, 3, 64, 64), [0.5, 0.5])
