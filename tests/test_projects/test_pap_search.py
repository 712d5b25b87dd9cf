"""projects/ParameterizedAPLoss: the monotone parameterisation, the
truncated normal against SciPy, the PPO-style update, resuming a killed
search, the sampled gradient scale reaching the heads, and two tiny rounds
of real proxy trainings on the smoke COCO data in parallel processes."""
import json
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from scipy.stats import truncnorm

import mmext  # noqa: F401
from mmext.models.losses.parameterized_ap_loss import check_ctrl_points
from mmext.testing import shrink_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'projects', 'ParameterizedAPLoss'))
import pap_search  # noqa: E402
from split_coco import split_coco  # noqa: E402


def test_initial_theta_is_the_identity_and_scale_one():
    theta = pap_search.initial_theta(2)
    assert len(theta) == 82
    loss = pap_search.theta_to_loss(theta[:41])
    assert loss['grad_scale'] == 1.0
    for pts in loss['ctrl_points'].values():
        np.testing.assert_allclose(pts, [0, 0, .2, .2, .4, .4, .6, .6, .8,
                                         .8, 1, 1], atol=1e-12)


def test_any_theta_gives_valid_curves():
    gen = torch.Generator().manual_seed(0)
    for theta in torch.rand(20, 41, generator=gen, dtype=torch.float64):
        loss = pap_search.theta_to_loss(theta.tolist())
        for name, pts in loss['ctrl_points'].items():
            check_ctrl_points(name, pts)
        assert 0.1 <= loss['grad_scale'] <= 10


def test_truncated_normal_matches_scipy():
    gen = torch.Generator().manual_seed(1)
    mean = torch.rand(6, generator=gen, dtype=torch.float64)
    sigma = torch.full((6, ), 0.2, dtype=torch.float64)
    x = pap_search.truncnorm_sample(mean, sigma, 4000, gen)
    assert ((x >= 0) & (x <= 1)).all()
    a, b = (0 - mean) / sigma, (1 - mean) / sigma
    expected = truncnorm.logpdf(x.numpy(), a.numpy(), b.numpy(),
                                loc=mean.numpy(), scale=sigma.numpy())
    np.testing.assert_allclose(
        pap_search.truncnorm_log_prob(x, mean, sigma).numpy(), expected,
        rtol=1e-9)
    np.testing.assert_allclose(
        x.mean(0).numpy(),
        truncnorm.mean(a.numpy(), b.numpy(), loc=mean.numpy(),
                       scale=sigma.numpy()), atol=0.01)


def test_ppo_moves_the_mean_towards_rewarded_samples():
    mu = torch.zeros(3, dtype=torch.float64)
    sigma = torch.full((3, ), 0.2, dtype=torch.float64)
    thetas = torch.tensor([[.3, .5, .5], [.7, .5, .5]], dtype=torch.float64)
    new = pap_search.ppo_update(mu, sigma, sigma, thetas,
                                torch.tensor([0., 1.], dtype=torch.float64))
    assert new[0] > 0.05
    same = pap_search.ppo_update(mu, sigma, sigma, thetas,
                                 torch.tensor([.4, .4], dtype=torch.float64))
    assert torch.equal(same, mu)


def peak_reward(theta, work_dir):
    """A cheap reward peaked at theta = 0.7 in every dimension."""
    return float(1 - np.mean((np.asarray(theta) - 0.7)**2))


class Interrupted(Exception):
    pass


def test_search_resumes_a_killed_round(tmp_path):
    calls = []

    def flaky(theta, work_dir):
        calls.append(work_dir)
        if len(calls) == 3:
            raise Interrupted
        return peak_reward(theta, work_dir)

    kw = dict(num_losses=1, rounds=3, samples=4, logger=lambda m: None)
    with pytest.raises(Interrupted):
        pap_search.PAPSearch(flaky, work_dir=str(tmp_path / 'a'), **kw).run()
    state = json.load(open(tmp_path / 'a' / 'search_state.json'))
    assert state['round'] == 0
    assert state['current']['rewards'][2] is None
    assert state['current']['rewards'][:2] == [
        peak_reward(t, None) for t in state['current']['thetas'][:2]]
    resumed = pap_search.PAPSearch(flaky, work_dir=str(tmp_path / 'a'),
                                   **kw).run()
    assert len(calls) == 3 + 2 + 4 + 4  # only the missing samples rerun
    straight = pap_search.PAPSearch(peak_reward, work_dir=str(tmp_path / 'b'),
                                    **kw).run()
    assert resumed['mu_logit'] == straight['mu_logit']
    assert [h['rewards'] for h in resumed['history']] == \
        [h['rewards'] for h in straight['history']]
    assert resumed['sigma'][0] == pytest.approx(0.2 / 3)  # 0.2 * 2/3 * 1/2
    pap_search.plot_search(resumed, str(tmp_path / 'search.png'))
    assert osp.getsize(tmp_path / 'search.png') > 0


def test_sampled_scale_reaches_the_heads():
    cfg = Config.fromfile(osp.join(
        REPO, 'configs', 'paploss', 'faster-rcnn_r50_fpn_paploss_1x_coco.py'))
    theta = pap_search.initial_theta(2)
    theta[40], theta[81] = 1.0, 0.0  # scales 10 and 0.1
    pap_search.apply_theta(cfg.model, theta)
    from mmengine.registry import init_default_scope

    from mmext.registry import MODELS
    init_default_scope('mmdet')
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    assert model.rpn_head.loss_cls.grad_scale == pytest.approx(10)
    assert model.roi_head.bbox_head.loss_cls.grad_scale == \
        pytest.approx(0.1)
    torch.testing.assert_close(
        model.rpn_head.loss_cls.points_H2,
        torch.tensor([0, 0, .2, .2, .4, .4, .6, .6, .8, .8, 1, 1],
                     dtype=torch.float64).view(-1, 2))
    with pytest.raises(ValueError, match='theta needs 82 numbers'):
        pap_search.apply_theta(cfg.model, theta[:41])


def test_two_tiny_rounds_of_proxy_trainings(smoke_data, tmp_path):
    """The held-out split of the smoke COCO training file, a shrunk
    RetinaNet config, two rounds of two samples in two processes."""
    train, val = split_coco(
        osp.join(smoke_data, 'coco', 'annotations',
                 'instances_train2017.json'), 2, out_dir=str(tmp_path))
    cfg = Config.fromfile(osp.join(
        REPO, 'configs', 'paploss', 'retinanet_r50_fpn_paploss_1x_coco.py'))
    cfg = shrink_config(cfg, smoke_data, str(tmp_path / 'unused'))
    cfg.train_dataloader.dataset.ann_file = train
    cfg.train_dataloader.dataset.indices = None
    cfg.train_dataloader.dataset.data_prefix = dict(
        img=osp.join(smoke_data, 'coco', 'train2017'))
    cfg.val_dataloader = cfg.train_dataloader.copy()
    cfg.val_dataloader.dataset = cfg.val_dataloader.dataset.copy()
    cfg.val_dataloader.dataset.update(
        ann_file=val, test_mode=True,
        pipeline=cfg.test_dataloader.dataset.pipeline)
    cfg.val_dataloader.sampler = dict(type='DefaultSampler', shuffle=False)
    cfg.val_evaluator.ann_file = val
    cfg.model.backbone.update(depth=18)
    cfg.model.neck.update(in_channels=[64, 128, 256, 512], out_channels=16)
    cfg.model.bbox_head.update(in_channels=16, feat_channels=16,
                               stacked_convs=1)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=100)
    config = str(tmp_path / 'proxy.py')
    cfg.dump(config)
    state = pap_search.main([config, '--work-dir', str(tmp_path / 'search'),
                             '--rounds', '2', '--samples', '2', '--workers',
                             '2'])
    assert state['round'] == 2 and len(state['history']) == 2
    for h in state['history']:
        assert all(0 <= r <= 1 for r in h['rewards'])
    for name in ('search_state.json', 'search.log', 'search.png',
                 'searched_losses.json'):
        assert osp.isfile(tmp_path / 'search' / name), name
