"""The recurrent vision-based agent: sb3-contrib's RecurrentPPO.

Training, atomic saving, loading with a check of the observation shape,
the differentiable forward of the frozen policy through an observation
sequence with the LSTM state carried, and rollouts that record the state
before every step.
"""
import io
import os.path as osp
from typing import Dict, List, Optional, Tuple

import mmengine
import numpy as np
import torch
import torch.nn as nn
from mmengine.logging import MMLogger, print_log
from mmext.utils import require

from .envs import TSCIInputError, make_env

sb3 = require('stable_baselines3', 'stable-baselines3',
              'the agent of projects/TSCI')
sb3_contrib = require('sb3_contrib', 'sb3-contrib',
                      'the recurrent agent of projects/TSCI')
from sb3_contrib import RecurrentPPO  # noqa: E402
from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402
from stable_baselines3.common.monitor import Monitor  # noqa: E402
from stable_baselines3.common.torch_layers import (  # noqa: E402
    BaseFeaturesExtractor, NatureCNN)
from stable_baselines3.common.vec_env import DummyVecEnv  # noqa: E402

#: ``(h, c)``, each ``(num_layers, B, hidden)``.
LSTMState = Tuple[torch.Tensor, torch.Tensor]


class MinAtarCNN(BaseFeaturesExtractor):
    """The network of the MinAtar paper (Young & Tian, 2019): one 3x3
    convolution with 16 channels (stride 1, padding 1), then a linear layer.

    Shapes:
        - observations: ``(B, C, H, W)``
        - output: ``(B, features_dim)``
    """

    def __init__(self, observation_space, features_dim: int = 128) -> None:
        super().__init__(observation_space, features_dim)
        c, h, w = observation_space.shape
        self.net = nn.Sequential(
            nn.Conv2d(c, 16, 3, padding=1), nn.ReLU(), nn.Flatten(),
            nn.Linear(16 * h * w, features_dim), nn.ReLU())

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.net(observations)


#: ``agent.features_extractor`` names -> (class, extra kwargs).
FEATURES_EXTRACTORS = {
    'minatar': (MinAtarCNN, {}),
    # the agent's observations are already floats in [0, 1]
    'nature': (NatureCNN, dict(normalized_image=True)),
}


class _ProgressCallback(BaseCallback):
    """mmengine progress bar over the timesteps and a log line (mean
    return of the episodes finished since the last one) per rollout."""

    def __init__(self, total: int, logger: MMLogger) -> None:
        super().__init__()
        self.bar = mmengine.ProgressBar(total)
        self.mm_logger = logger
        self.returns: List[float] = []
        self.shown = 0

    def _on_step(self) -> bool:
        for info in self.locals['infos']:
            if 'episode' in info:
                self.returns.append(float(info['episode']['r']))
        return True

    def _on_rollout_end(self) -> None:
        self.bar.update(self.num_timesteps - self.shown)
        self.shown = self.num_timesteps
        if self.returns:
            self.mm_logger.info(
                f'step {self.num_timesteps}: mean return '
                f'{np.mean(self.returns):.3f} over {len(self.returns)} '
                'episodes')
            self.returns = []


def train_agent(cfg: mmengine.Config, out_file: str) -> 'RecurrentPPO':
    """Train a RecurrentPPO agent as ``cfg.agent`` says and save it.

    Args:
        cfg (Config): With ``env_id``, ``seed`` and ``agent`` (keys
            ``total_timesteps``, ``n_envs``, ``device`` (of the training;
            the explanations run on the CPU), ``features_extractor``,
            ``features_dim``, ``lstm_hidden_size`` and ``ppo``: keyword
            arguments of ``RecurrentPPO``).
        out_file (str): Where the agent is saved (``.zip``).

    Returns:
        RecurrentPPO: The trained agent.
    """
    acfg = cfg.agent
    if acfg.features_extractor not in FEATURES_EXTRACTORS:
        raise TSCIInputError(
            f'agent.features_extractor={acfg.features_extractor!r}; '
            f'expected one of {sorted(FEATURES_EXTRACTORS)}')
    extractor, extra = FEATURES_EXTRACTORS[acfg.features_extractor]
    venv = DummyVecEnv([
        lambda i=i: Monitor(make_env(cfg.env_id, cfg.seed + i))
        for i in range(acfg.n_envs)
    ])
    agent = RecurrentPPO(
        'CnnLstmPolicy',
        venv,
        seed=cfg.seed,
        device=acfg.device,
        policy_kwargs=dict(
            features_extractor_class=extractor,
            features_extractor_kwargs=dict(
                features_dim=acfg.features_dim, **extra),
            normalize_images=False,
            lstm_hidden_size=acfg.lstm_hidden_size,
            net_arch=dict(pi=[], vf=[])),
        **acfg.ppo)
    logger = MMLogger.get_current_instance()
    logger.info(f'training RecurrentPPO on {cfg.env_id} for '
                f'{acfg.total_timesteps} steps')
    agent.learn(acfg.total_timesteps,
                callback=_ProgressCallback(acfg.total_timesteps, logger))
    save_agent(agent, out_file)
    logger.info(f'agent saved to {out_file}')
    return agent


def save_agent(agent: 'RecurrentPPO', out_file: str) -> None:
    """Save atomically: mmext's ``LocalBackend.put`` writes a temporary file
    in the same folder and ``os.replace``-s it."""
    buf = io.BytesIO()
    agent.save(buf)
    mmengine.fileio.put(buf.getvalue(), out_file)


def load_agent(path: str, env) -> 'RecurrentPPO':
    """Load an agent for ``env``, frozen, on the CPU.

    Raises:
        TSCIInputError: ``path`` does not exist, is not a RecurrentPPO
            agent, or holds one trained on another observation shape or
            number of actions than ``env``'s.
    """
    if not osp.isfile(path):
        raise TSCIInputError(f'agent checkpoint {path} does not exist; '
                             'train one with projects/TSCI/train_agent.py')
    try:
        agent = RecurrentPPO.load(path, device='cpu')
    except Exception as err:  # sb3 raises many kinds on a foreign file
        raise TSCIInputError(
            f'{path} is not a RecurrentPPO agent saved by projects/TSCI '
            f'({type(err).__name__}: {err})') from err
    env_id = env.spec.id
    got = (agent.observation_space.shape, agent.action_space.n)
    expected = (env.observation_space.shape, env.action_space.n)
    if got != expected:
        raise TSCIInputError(
            f'agent checkpoint {path} takes observations of shape {got[0]} '
            f'with {got[1]} actions, but {env_id} gives observations of '
            f'shape {expected[0]} with {expected[1]} actions; train an '
            f'agent for {env_id} with projects/TSCI/train_agent.py')
    agent.policy.set_training_mode(False)
    agent.policy.requires_grad_(False)
    return agent


def initial_state(policy, batch_size: int) -> LSTMState:
    """Zero LSTM state ``(h, c)``, each ``(num_layers, B, hidden)``."""
    layers, _, hidden = policy.lstm_hidden_state_shape
    zeros = torch.zeros(layers, batch_size, hidden)
    return zeros, zeros.clone()


def policy_logits(policy, obs: torch.Tensor,
                  state: LSTMState) -> Tuple[torch.Tensor, LSTMState]:
    """Actor logits along observation sequences, the LSTM state carried.

    No episode starts inside the sequences (a window never crosses an
    episode boundary). Differentiable with respect to ``obs``.

    Args:
        policy: A ``RecurrentActorCriticPolicy``.
        obs (Tensor): ``(B, T, C, H, W)`` observations.
        state (tuple[Tensor, Tensor]): ``(h, c)`` before the first step,
            each ``(num_layers, B, hidden)``.

    Returns:
        tuple: ``(B, T, A)`` logits and the state after the last step.
    """
    B, T = obs.shape[:2]
    features = policy.pi_features_extractor(obs.flatten(0, 1))
    latent, state = policy.lstm_actor(
        features.view(B, T, -1).transpose(0, 1), state)
    latent = policy.mlp_extractor.forward_actor(latent.transpose(0, 1))
    return policy.action_net(latent), state


def select_actions(logits: torch.Tensor, deterministic: bool,
                   generator: torch.Generator) -> torch.Tensor:
    """``(B, A)`` logits -> ``(B,)`` greedy or sampled actions."""
    if deterministic:
        return logits.argmax(-1)
    return torch.multinomial(logits.softmax(-1), 1, generator=generator)[:, 0]


@torch.no_grad()
def collect_episodes(policy,
                     env,
                     num_steps: int,
                     deterministic: bool,
                     seed: int,
                     max_episode_steps: Optional[int] = None
                     ) -> List[Dict[str, torch.Tensor]]:
    """Roll the policy out for about ``num_steps`` steps (whole episodes).

    Returns:
        list[dict]: Per episode: ``obs`` ``(T, C, H, W)``, ``h`` and ``c``
        ``(T, num_layers, hidden)`` (the LSTM state before each step),
        ``actions`` ``(T,)`` and ``ret`` (the return).
    """
    gen = torch.Generator().manual_seed(seed)
    episodes, total, first = [], 0, True
    while total < num_steps:
        obs, _ = env.reset(seed=seed if first else None)
        first = False
        state = initial_state(policy, 1)
        rec = dict(obs=[], h=[], c=[], actions=[])
        ret, done = 0.0, False
        while not done:
            x = torch.from_numpy(obs)[None, None]
            rec['obs'].append(x[0, 0])
            rec['h'].append(state[0][:, 0])
            rec['c'].append(state[1][:, 0])
            logits, state = policy_logits(policy, x, state)
            action = select_actions(logits[:, 0], deterministic, gen)
            rec['actions'].append(action[0])
            obs, reward, term, trunc, _ = env.step(int(action))
            ret += float(reward)
            done = term or trunc or (max_episode_steps is not None and len(
                rec['actions']) >= max_episode_steps)
        total += len(rec['actions'])
        episodes.append({k: torch.stack(v) for k, v in rec.items()})
        episodes[-1]['ret'] = ret
    print_log(f'collected {len(episodes)} episodes, {total} steps',
              logger='current')
    return episodes
