"""GFNet: the authors' parameter counts and per-step multiply-adds, real
early exit against every-step inference, the training stages, bad input."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import MODELS, init_default_scope
from mmpretrain.structures import DataSample

import mmext  # noqa: F401
from mmext.evaluation.step_cost import measure_step_costs
from mmext.models.utils import all_steps_predict, early_exit_predict

CONFIGS = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.dirname(__file__)))), 'configs',
    'gfnet')
R50 = 'gfnet-stage1_resnet50-p96_8xb32_60e_in1k.py'
MBV3 = 'gfnet-stage1_mobilenetv3-large-p96_8xb32_90e_in1k.py'


def _model_cfg(name: str, **changes) -> dict:
    cfg = Config.fromfile(osp.join(CONFIGS, name)).model.to_dict()
    cfg['global_encoder']['init_cfg'] = None
    cfg.update(changes)
    return cfg


def _build(cfg: dict):
    init_default_scope('mmpretrain')
    return MODELS.build(cfg)


def _params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def _macs(model, size: int = 224):
    """Authors' convention (conv / linear / GRU hooks), counted on the meta
    device: shapes only, nothing is computed."""
    model = model.to('meta').eval()
    costs = measure_step_costs(model, torch.empty(1, 3, size, size,
                                                  device='meta'))
    return [round(c / 1e6, 1) for c in costs]


def _encoder(backbone: dict, channels: int, **head) -> dict:
    return dict(
        type='mmpretrain.ImageClassifier',
        backbone=backbone,
        neck=dict(type='mmpretrain.GlobalAveragePooling'),
        head=dict(type='mmpretrain.LinearClsHead', num_classes=1000,
                  in_channels=channels, **head))


def _densenet(arch: str, channels: int) -> dict:
    return dict(
        glance_interpolation='bilinear',
        global_encoder=_encoder(dict(type='mmpretrain.DenseNet', arch=arch),
                                channels),
        classifier=dict(type='GFNetHead', in_channels=channels),
        policy=dict(type='GFNetPolicy', in_channels=channels))


def _efficientnet(arch: str, channels: int, patch_size: int) -> dict:
    return dict(
        patch_size=patch_size,
        num_steps=4,
        global_encoder=_encoder(
            dict(type='mmpretrain.EfficientNet', arch=arch), channels),
        classifier=dict(type='GFNetHead', in_channels=channels,
                        mode='cascade'),
        policy=dict(type='GFNetPolicy', in_channels=channels,
                    encoder='conv', hidden_dim=256))



def _regnety(arch: str, channels: int) -> dict:
    return dict(
        glance_interpolation='bilinear',
        glance_logits='encoder',
        global_encoder=_encoder(dict(type='RegNetY', arch=arch), channels),
        classifier=dict(type='GFNetHead', in_channels=channels),
        policy=dict(type='GFNetPolicy', in_channels=channels,
                    encoder='conv', hidden_dim=256))


# totals of the authors' code (policy, classifier, both encoders with their
# own heads) and cumulative MACs (M) of their inference.py / README figure
@pytest.mark.parametrize('name, changes, params, macs', [
    (R50, {}, 107_732_027, [761.2, 1568.5, 2375.8, 3183.1, 3990.4]),
    (R50, dict(patch_size=128), 137_092_155,
     [1345.0, 2765.6, 4186.1, 5606.6, 7027.2]),
    (MBV3, {}, 29_390_291, [43.1, 88.1, 134.5]),
    (R50, _densenet('121', 1024), 50_555_579,
     [527.7, 1082.6, 1637.6, 2192.5, 2747.5]),
    (R50, _densenet('169', 1664), 76_659_387, None),
    (R50, _densenet('201', 1920), 93_893_307, None),
    (MBV3, dict(patch_size=128), 29_447_635, [73.4, 149.2, 226.2]),
    (MBV3,
     dict(patch_size=128,
          global_encoder=dict(
              _encoder(dict(type='GenMobileNetV3', widen_factor=1.25), 1200),
              head=dict(type='mmpretrain.StackedLinearClsHead',
                        num_classes=1000, in_channels=1200,
                        mid_channels=[1280], act_cfg=dict(type='HSwish'))),
          policy=dict(type='GFNetPolicy', in_channels=1200, encoder='conv',
                      hidden_dim=256)), 33_593_203, [119.5, 241.5, 364.7]),
    (MBV3, _efficientnet('b2', 1408, 128), 38_507_895,
     [217.0, 436.7, 657.7, 880.2]),
    (MBV3, _efficientnet('b3', 1536, 128), 46_550_467,
     [316.6, 636.1, 957.2, 1279.7]),
    (MBV3, _efficientnet('b3', 1536, 144), 46_624_195, None),
    (R50, _regnety('regnety_600mf', 608), 18_643_931,
     [117.7, 235.4, 353.1, 470.8, 588.5]),
    (R50, _regnety('regnety_800mf', 768), 19_556_587, None),
    (R50, _regnety('regnety_1.6gf', 888), 29_807_591, None),
])
def test_authors_counts(name, changes, params, macs):
    # stage 3: the focus steps run the policy (stage 1 picks at random)
    model = _build(_model_cfg(name, stage=3, **changes))
    assert _params(model) == params
    if macs is not None:
        assert _macs(model) == macs


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
