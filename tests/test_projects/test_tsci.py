"""projects/TSCI end to end on MinAtar Breakout, on small budgets.

A RecurrentPPO agent trained for a few thousand steps and a mask network
trained briefly on it are shared by the module (one fixture). Checked: the
LSTM state carried through sequences against sb3's own step-by-step
``predict``; the windows and the states recorded by the rollouts; the
causal discovery network's shapes, temporal mixing and ``init_cfg``; the
baselines against slow loops; trained masks against random masks of equal
area; the PNG strips and the GIF; the atomic saves; and bad input (an
unknown environment id, checkpoints for other observations).
"""
import glob
import os
import os.path as osp
import subprocess
import sys

import imageio
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from scipy.ndimage import gaussian_filter

import mmext  # noqa: F401
from mmext.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PROJECT = osp.join(REPO, 'projects', 'TSCI')
sys.path.insert(0, PROJECT)
import tsci  # noqa: E402
from tsci.agent import (collect_episodes, initial_state,  # noqa: E402
                        policy_logits, save_agent)
from tsci.baselines import (gradient_saliency, occlusion_saliency,  # noqa
                            perturbation_saliency)
from tsci.envs import TSCIInputError, object_channels  # noqa: E402
from tsci.mask_training import (WindowSampler, mask_history,  # noqa: E402
                                save_mask_net)

CONFIG = osp.join(PROJECT, 'configs', 'tsci_minatar-breakout.py')


def small_config() -> Config:
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict({
        'agent.total_timesteps': 6144,
        'agent.features_dim': 64,
        'agent.lstm_hidden_size': 64,
        'agent.ppo.n_steps': 64,
        'agent.ppo.learning_rate': 2.5e-3,
        'mask_train.num_env_steps': 1500,
        'mask_train.iters': 100,
        'mask_train.log_interval': 50,
        'evaluation.num_env_steps': 800,
        'evaluation.num_windows': 200,
        'evaluation.return_episodes': 2,
        'evaluation.max_episode_steps': 200,
        'vis.max_steps': 12,
        'vis.num_strips': 2,
        'vis.scale': 4,
    })
    return cfg


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """(config, folder, agent file, mask file): one agent and one mask
    network for the whole module."""
    torch.set_num_threads(1)
    work = tmp_path_factory.mktemp('tsci')
    MMLogger.get_instance('test_tsci', log_file=str(work / 'tsci.log'))
    cfg = small_config()
    agent_file, mask_file = str(work / 'agent.zip'), str(work / 'mask.pth')
    torch.manual_seed(0)
    tsci.train_agent(cfg, agent_file)
    tsci.train_mask_net(cfg, agent_file, mask_file)
    return cfg, work, agent_file, mask_file


def test_hidden_state_is_carried_as_sb3_predict_does(trained):
    cfg, _, agent_file, _ = trained
    env = tsci.make_env(cfg.env_id, seed=5)
    agent = tsci.load_agent(agent_file, env)
    obs, _ = env.reset(seed=5)
    seen, actions, states = [], [], []
    state, start = None, np.ones(1, dtype=bool)
    for _ in range(15):
        seen.append(obs)
        action, state = agent.predict(obs[None], state, start,
                                      deterministic=True)
        states.append(state)
        start[:] = False
        obs, _, term, trunc, _ = env.step(int(action[0]))
        actions.append(int(action[0]))
        if term or trunc:
            break
    assert len(actions) >= 6
    seq = torch.from_numpy(np.stack(seen))[None]
    logits, (h, c) = policy_logits(agent.policy, seq,
                                   initial_state(agent.policy, 1))
    assert logits.argmax(-1)[0].tolist() == actions
    np.testing.assert_allclose(h.numpy(), states[-1][0], atol=1e-5)
    np.testing.assert_allclose(c.numpy(), states[-1][1], atol=1e-5)
    # restarting from the state sb3 reached after k steps gives the same
    # logits as the whole sequence; from a zero state it does not
    k = len(actions) // 2
    mid = tuple(torch.from_numpy(s) for s in states[k - 1])
    tail, _ = policy_logits(agent.policy, seq[:, k:], mid)
    np.testing.assert_allclose(tail.numpy(), logits[:, k:].numpy(),
                               atol=1e-5)
    fresh, _ = policy_logits(agent.policy, seq[:, k:],
                             initial_state(agent.policy, 1))
    assert (fresh - logits[:, k:]).abs().max() > 1e-3


def test_rollouts_record_the_state_before_each_step(trained):
    cfg, _, agent_file, _ = trained
    env = tsci.make_env(cfg.env_id)
    policy = tsci.load_agent(agent_file, env).policy
    episodes = collect_episodes(policy, env, 30, True, 3, 40)
    ep = episodes[0]
    T = len(ep['actions'])
    logits, _ = policy_logits(policy, ep['obs'][None],
                              initial_state(policy, 1))
    assert logits.argmax(-1)[0].tolist() == ep['actions'].tolist()
    k = T // 2
    _, (h, c) = policy_logits(policy, ep['obs'][None, :k],
                              initial_state(policy, 1))
    torch.testing.assert_close(ep['h'][k], h[:, 0], atol=1e-6, rtol=0)
    torch.testing.assert_close(ep['c'][k], c[:, 0], atol=1e-6, rtol=0)
    assert ep['h'][0].abs().sum() == 0


def test_window_sampler_by_hand():
    eps = [
        dict(obs=torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1),
             h=torch.arange(n, dtype=torch.float32).view(n, 1, 1) + 100,
             c=-torch.arange(n, dtype=torch.float32).view(n, 1, 1),
             actions=torch.zeros(n)) for n in (3, 6, 4)
    ]
    sampler = WindowSampler(eps, window=2, horizon=2)
    # episodes of 3, 6 and 4 steps hold 0, 3 and 1 windows of 4 steps
    assert sampler.index == [(1, 0), (1, 1), (1, 2), (2, 0)]
    obs, (h, c) = sampler.batch([2, 3])
    assert obs[:, :, 0, 0, 0].tolist() == [[2, 3, 4, 5], [0, 1, 2, 3]]
    assert h.shape == (1, 2, 1) and h[0, :, 0].tolist() == [102, 100]
    assert c[0, :, 0].tolist() == [-2, 0]
    with pytest.raises(TSCIInputError, match='no episode has the 7 steps'):
        WindowSampler(eps, window=4, horizon=3)
    masks = torch.tensor([[[[0.5]], [[2.0]]]])
    assert mask_history(obs[:1], masks)[0, :, 0, 0, 0].tolist() == [
        1, 6, 4, 5
    ]


def test_causal_discovery_net_shapes_temporal_mixing_and_init_cfg():
    torch.manual_seed(0)
    atari = MODELS.build(dict(type='CausalDiscoveryNet', in_channels=1,
                              base_channels=4, num_downs=2))
    masks = atari(torch.rand(2, 3, 1, 84, 84))
    assert masks.shape == (2, 3, 84, 84)
    assert ((masks > 0) & (masks < 1)).all()
    frames = torch.rand(1, 4, 4, 10, 10)
    other = frames.clone()
    other[:, 0] = 1 - other[:, 0]
    for blocks, mixes in ((2, True), (0, False)):
        net = MODELS.build(dict(type='CausalDiscoveryNet', in_channels=4,
                                base_channels=4, num_temporal_blocks=blocks))
        # frame 0 changes: frame 1's mask follows only through the
        # temporal blocks; frame 3 is out of their reach
        diff = (net(frames) - net(other)).abs().amax((0, 2, 3))
        assert (diff[1] > 0) == mixes and diff[3] == 0
    const = MODELS.build(
        dict(type='CausalDiscoveryNet', in_channels=4, base_channels=4,
             init_cfg=dict(type='Constant', val=0.0, bias=2.0,
                           layer='Conv3d')))
    const.init_weights()
    np.testing.assert_allclose(const(frames).detach().numpy(),
                               1 / (1 + np.exp(-2.0)), rtol=1e-6)


@pytest.fixture(scope='module')
def window_batch(trained):
    cfg, _, agent_file, _ = trained
    env = tsci.make_env(cfg.env_id)
    policy = tsci.load_agent(agent_file, env).policy
    episodes = collect_episodes(policy, env, 60, True, 7, 60)
    obs, state = WindowSampler(episodes, 3, 0).batch([5, 20])
    return policy, obs, state


def last_logits(policy, window, state):
    return policy_logits(policy, window, state)[0][:, -1]


def test_gradient_saliency_is_the_max_abs_input_gradient(window_batch):
    policy, obs, state = window_batch
    sal = gradient_saliency(policy, obs, state)
    for b in range(2):
        x = obs[b:b + 1].clone().requires_grad_(True)
        st = (state[0][:, b:b + 1], state[1][:, b:b + 1])
        logits = last_logits(policy, x, st)[0]
        (grad, ) = torch.autograd.grad(logits[logits.argmax()], x)
        torch.testing.assert_close(sal[b], grad[0].abs().amax(1))


def test_occlusion_is_the_logit_drop_of_each_patch(window_batch):
    policy, obs, state = window_batch
    sal = occlusion_saliency(policy, obs, state, patch=2, stride=2)
    ref = last_logits(policy, obs, state)
    act = ref.argmax(-1)
    for b, k, i, j in ((0, 0, 0, 0), (1, 2, 4, 6), (0, 1, 8, 2)):
        x = obs[b:b + 1].clone()
        x[0, k, :, i:i + 2, j:j + 2] = 0
        st = (state[0][:, b:b + 1], state[1][:, b:b + 1])
        drop = ref[b, act[b]] - last_logits(policy, x, st)[0, act[b]]
        torch.testing.assert_close(sal[b, k, i:i + 2, j:j + 2],
                                   drop.expand(2, 2), atol=1e-5, rtol=1e-4)


def test_perturbation_saliency_matches_greydanus_loop(window_batch):
    policy, obs, state = window_batch
    sal = perturbation_saliency(policy, obs, state, mask_sigma=1.0,
                                blur_sigma=1.0, stride=1)
    ref = last_logits(policy, obs, state)
    yy, xx = np.mgrid[:10, :10]
    for b, k, i, j in ((0, 2, 3, 4), (1, 0, 9, 0)):
        disk = (((yy - i)**2 + (xx - j)**2) <= 1).astype(float)
        m = gaussian_filter(disk, 1.0)
        m = torch.from_numpy(m / m.max()).float()
        frame = obs[b, k].numpy()
        blur = torch.from_numpy(
            np.stack([gaussian_filter(ch, 1.0) for ch in frame])).float()
        x = obs[b:b + 1].clone()
        x[0, k] = obs[b, k] * (1 - m) + blur * m
        st = (state[0][:, b:b + 1], state[1][:, b:b + 1])
        expected = 0.5 * (last_logits(policy, x, st)[0] - ref[b]).pow(2).sum()
        torch.testing.assert_close(sal[b, k, i, j], expected, atol=1e-6,
                                   rtol=1e-4)


def test_trained_masks_beat_random_masks_of_equal_area(trained):
    cfg, _, agent_file, mask_file = trained
    res = tsci.evaluate(cfg, agent_file, mask_file, ['tsci', 'random'])
    t, r = res['tsci'], res['random']
    # the same random masks serve both methods
    assert t['random_agreement'] == r['random_agreement']
    assert t['agreement'] > t['random_agreement'] + 0.05
    assert t['kl'] < t['random_kl']
    assert t['insertion_auc'] > r['insertion_auc']
    assert t['overlap'] > t['random_overlap']
    assert t['coverage'] > t['random_coverage']
    assert set(res) == {'tsci', 'random', 'random_mask', 'none_mask'}
    assert np.isfinite(res['tsci']['return'])


def test_visualisation_writes_strips_and_gif(trained):
    cfg, work, agent_file, mask_file = trained
    out = str(work / 'vis')
    files = tsci.visualize(cfg, agent_file, mask_file, out, ['tsci'])
    assert sorted(osp.basename(f) for f in files) == [
        'tsci_episode.gif', 'tsci_strip_0.png', 'tsci_strip_1.png'
    ]
    strip = imageio.imread(osp.join(out, 'tsci_strip_0.png'))
    assert strip.shape == (2 * 10 * 4, cfg.window * 10 * 4, 3)
    gif = imageio.mimread(osp.join(out, 'tsci_episode.gif'))
    # one frame per step of the greedy episode (capped at vis.max_steps)
    env = tsci.make_env(cfg.env_id)
    policy = tsci.load_agent(agent_file, env).policy
    ep = collect_episodes(policy, env, 1, True, cfg.vis.seed,
                          cfg.vis.max_steps)[0]
    assert len(gif) == len(ep['actions'])
    assert gif[0].shape[:2] == (10 * 4, 2 * 10 * 4)


def test_saves_go_through_a_temporary_file_and_reload(trained, tmp_path,
                                                      monkeypatch):
    cfg, _, agent_file, mask_file = trained
    env = tsci.make_env(cfg.env_id)
    agent = tsci.load_agent(agent_file, env)
    net = tsci.load_mask_net(mask_file, env)
    assert not net.training
    assert all(not p.requires_grad for p in net.parameters())
    moves = []
    replace = os.replace

    def spy(src, dst):
        moves.append((osp.dirname(src), osp.basename(src), dst))
        replace(src, dst)

    monkeypatch.setattr(os, 'replace', spy)
    out_agent, out_net = str(tmp_path / 'a.zip'), str(tmp_path / 'm.pth')
    save_agent(agent, out_agent)
    save_mask_net(net, cfg, env, out_net)
    assert [(d, dst) for d, _, dst in moves] == [(str(tmp_path), out_agent),
                                                 (str(tmp_path), out_net)]
    assert all(name.endswith('.tmp') for _, name, _ in moves)
    assert sorted(os.listdir(tmp_path)) == ['a.zip', 'm.pth']
    reloaded = tsci.load_agent(out_agent, env)
    for a, b in zip(agent.policy.parameters(), reloaded.policy.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    again = tsci.load_mask_net(out_net, env)
    x = torch.rand(2, cfg.window, 4, 10, 10)
    torch.testing.assert_close(again(x), net(x), rtol=0, atol=0)


def test_unknown_env_id_stops_with_one_message(tmp_path):
    with pytest.raises(TSCIInputError,
                       match="unknown environment id 'MinAtar/Pong-v1'"):
        tsci.make_env('MinAtar/Pong-v1')
    # the command prints the message, not a traceback
    proc = subprocess.run([
        sys.executable,
        osp.join(PROJECT, 'train_agent.py'), CONFIG, '--work-dir',
        str(tmp_path), '--cfg-options', 'env_id=ALE/NoSuchGame-v5'
    ], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: unknown environment id "
                           "'ALE/NoSuchGame-v5'")
    assert 'Traceback' not in proc.stderr


def test_checkpoints_for_other_observations_are_refused(trained, tmp_path):
    _, _, agent_file, mask_file = trained
    seaquest = tsci.make_env('MinAtar/Seaquest-v1')
    with pytest.raises(TSCIInputError) as info:
        tsci.load_agent(agent_file, seaquest)
    assert str(info.value).startswith(
        f'agent checkpoint {agent_file} takes observations of shape '
        '(4, 10, 10) with 3 actions, but MinAtar/Seaquest-v1 gives '
        'observations of shape (10, 10, 10) with 6 actions')
    with pytest.raises(TSCIInputError, match='trained on MinAtar/Breakout-v1'
                       r' observations of shape \[4, 10, 10\]'):
        tsci.load_mask_net(mask_file, seaquest)
    bad = tmp_path / 'agent.zip'
    bad.write_bytes(b'not a zip')
    with pytest.raises(TSCIInputError, match='is not a RecurrentPPO agent'):
        tsci.load_agent(str(bad), seaquest)
    with pytest.raises(TSCIInputError, match='does not exist'):
        tsci.load_agent(str(tmp_path / 'none.zip'), seaquest)


def test_ale_observations_and_no_object_channels():
    env = tsci.make_env('ALE/Pong-v5')
    obs, _ = env.reset(seed=0)
    assert obs.shape == (1, 84, 84) and obs.dtype == np.float32
    assert 0 <= obs.min() and obs.max() <= 1 and obs.max() > 0
    assert object_channels(env) == {}
    from tsci.envs import relevance_channels
    with pytest.raises(TSCIInputError, match='no object channels'):
        relevance_channels(env, ['ball'])


@pytest.mark.parametrize('name', sorted(
    osp.basename(p) for p in glob.glob(osp.join(PROJECT, 'configs',
                                                'tsci_*.py'))))
def test_configs_build(name):
    cfg = Config.fromfile(osp.join(PROJECT, 'configs', name))
    env = tsci.make_env(cfg.env_id)
    net = MODELS.build(cfg.mask_net)
    K = cfg.window
    x = torch.zeros((1, K) + env.observation_space.shape)
    assert net(x).shape == (1, K) + env.observation_space.shape[1:]
    MODELS.build(cfg.mask_loss)
    if cfg.evaluation.relevant_objects:
        assert set(cfg.evaluation.relevant_objects) <= set(
            object_channels(env))
