"""UniGrad: the authors' parameter counts from the config, a training step,
and F and the momentum branch continuing unchanged after a checkpoint
round trip (resume)."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint, save_checkpoint

import mmext  # noqa: F401
from mmext.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

TINY = dict(
    type='UniGrad',
    backbone=dict(type='ResNet', depth=18, zero_init_residual=True),
    neck=dict(
        type='NonLinearNeck',
        in_channels=512,
        hid_channels=32,
        out_channels=16,
        num_layers=3,
        with_bias=False,
        with_last_bn=False,
        with_last_bias=True,
        with_avg_pool=True),
    loss=dict(type='UniGradLoss', dim=16),
    data_preprocessor=dict(type='SelfSupDataPreprocessor'))


def count(module):
    return sum(p.numel() for p in module.parameters())


def test_parameter_counts_equal_the_authors():
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', 'unigrad',
                 'unigrad_resnet50_8xb128-coslr-100e_in1k.py'))
    model = MODELS.build(cfg.model)
    assert count(model.backbone) == 23_508_032
    assert count(model.neck) == 12_593_152
    assert count(model.backbone) + count(model.neck) == 36_101_184
    assert count(model) == 72_202_368


def views(seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(4, 3, 32, 32, generator=g) for _ in range(2)]


def step(model, optimizer, seed):
    optimizer.zero_grad()
    loss = model.loss(views(seed), [])['loss']
    loss.backward()
    optimizer.step()
    return loss


def test_training_step_and_resume(tmp_path):
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(TINY))
    model.init_weights()
    from mmengine.logging import MessageHub
    MessageHub.get_current_instance().update_info('max_iters', 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = model.loss(views(0), [])
    assert set(losses) == {'loss', 'pos_sim'}
    assert bool(model.loss_module.initialized)
    step(model, optimizer, 1)
    ckpt = str(tmp_path / 'iter_2.pth')
    save_checkpoint({
        'state_dict': model.state_dict(),
        'optimizer': optimizer.state_dict()
    }, ckpt)

    resumed = MODELS.build(copy.deepcopy(TINY))
    state = load_checkpoint(resumed, ckpt, map_location='cpu', strict=True)
    assert torch.equal(resumed.loss_module.F, model.loss_module.F)
    assert resumed.target_net.steps == model.target_net.steps
    resumed_opt = torch.optim.SGD(
        resumed.parameters(), lr=0.1, momentum=0.9)
    resumed_opt.load_state_dict(state['optimizer'])
    # the next step of the resumed model is the next step of the original
    torch.testing.assert_close(
        step(resumed, resumed_opt, 2), step(model, optimizer, 2))
    torch.testing.assert_close(resumed.loss_module.F, model.loss_module.F)


@pytest.mark.parametrize('momentum', [-0.1, 1.5, '0.004', True])
def test_bad_momentum(momentum):
    init_default_scope('mmpretrain')
    with pytest.raises(ValueError, match='base_momentum'):
        MODELS.build(dict(copy.deepcopy(TINY), base_momentum=momentum))
