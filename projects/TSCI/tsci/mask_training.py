"""Training the causal discovery network with the agent frozen."""
import io
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import mmengine
import torch
import torch.nn as nn
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmext.registry import MODELS
from mmext.utils import safe_torch_load

from .agent import LSTMState, collect_episodes, load_agent, policy_logits
from .envs import TSCIInputError, make_env


class WindowSampler:
    """Windows of ``window`` frames followed by ``horizon`` frames, all in
    one episode, with the agent's LSTM state before the first frame.

    Args:
        episodes (list[dict]): From :func:`collect_episodes`.
        window (int): ``K``, the masked history ``o_{t-K+1..t}``.
        horizon (int): ``L``, the unmasked following steps.
    """

    def __init__(self, episodes: List[Dict[str, torch.Tensor]], window: int,
                 horizon: int) -> None:
        self.episodes = episodes
        self.length = window + horizon
        # start indices s with the window o_s..o_{s+K+L-1} in the episode
        self.index = [(e, s) for e, ep in enumerate(episodes)
                      for s in range(len(ep['actions']) - self.length + 1)]
        if not self.index:
            raise TSCIInputError(
                f'no episode has the {self.length} steps a window of '
                f'{window} and a horizon of {horizon} need; collect more '
                'steps or shorten them')

    def __len__(self) -> int:
        return len(self.index)

    def batch(self, ids: Sequence[int]) -> Tuple[torch.Tensor, LSTMState]:
        """``(B, K + L, C, H, W)`` observations and the state ``(h, c)``,
        each ``(num_layers, B, hidden)``."""
        obs, h, c = [], [], []
        for i in ids:
            e, s = self.index[i]
            ep = self.episodes[e]
            obs.append(ep['obs'][s:s + self.length])
            h.append(ep['h'][s])
            c.append(ep['c'][s])
        return torch.stack(obs), (torch.stack(h, 1), torch.stack(c, 1))


def mask_history(obs: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Multiply the first ``K`` frames by their masks (zero outside).

    Shapes:
        - obs: ``(B, T, C, H, W)``
        - masks: ``(B, K, H, W)``, ``K <= T``
        - output: ``(B, T, C, H, W)``
    """
    K = masks.shape[1]
    return torch.cat([obs[:, :K] * masks[:, :, None], obs[:, K:]], 1)


def train_mask_net(cfg: mmengine.Config, agent_file: str,
                   out_file: str) -> nn.Module:
    """Train ``cfg.mask_net`` with ``cfg.mask_loss`` on the frozen agent.

    Rollouts of the agent (``cfg.mask_train.num_env_steps`` steps) give the
    windows; each iteration rolls a batch of windows, masked and unmasked,
    through the agent from the recorded LSTM state.

    Returns:
        nn.Module: The trained network (also saved to ``out_file``).
    """
    tcfg = cfg.mask_train
    logger = MMLogger.get_current_instance()
    env = make_env(cfg.env_id, cfg.seed)
    policy = load_agent(agent_file, env).policy
    episodes = collect_episodes(
        policy, env, tcfg.num_env_steps,
        tcfg.deterministic, cfg.seed, tcfg.max_episode_steps)
    sampler = WindowSampler(episodes, cfg.window, cfg.horizon)
    net = MODELS.build(cfg.mask_net)
    net.init_weights()
    loss_fn = MODELS.build(cfg.mask_loss)
    optim = build_optim_wrapper(net, tcfg.optim_wrapper)
    gen = torch.Generator().manual_seed(cfg.seed)
    bar = mmengine.ProgressBar(tcfg.iters)
    net.train()
    for it in range(1, tcfg.iters + 1):
        ids = torch.randint(len(sampler), (tcfg.batch_size, ), generator=gen)
        obs, state = sampler.batch(ids.tolist())
        with torch.no_grad():
            ref, _ = policy_logits(policy, obs, state)
        masks = net(obs[:, :cfg.window])
        logits, _ = policy_logits(policy, mask_history(obs, masks), state)
        losses = loss_fn(ref, logits, masks)
        optim.update_params(sum(losses.values()))
        bar.update()
        if it % tcfg.log_interval == 0 or it == tcfg.iters:
            logger.info(f'iter {it}/{tcfg.iters}: ' + ', '.join(
                f'{k} {v.item():.4f}' for k, v in losses.items()) +
                        f', mean mask {masks.mean().item():.3f}')
    net.eval()
    save_mask_net(net, cfg, env, out_file)
    logger.info(f'mask network saved to {out_file}')
    return net


def save_mask_net(net: nn.Module, cfg: mmengine.Config, env,
                  out_file: str) -> None:
    """Save the weights with the config that builds them, atomically
    (mmext's ``LocalBackend.put``)."""
    buf = io.BytesIO()
    torch.save(
        dict(state_dict=net.state_dict(), mask_net=cfg.mask_net.to_dict(),
             env_id=cfg.env_id,
             obs_shape=list(env.observation_space.shape)), buf)
    mmengine.fileio.put(buf.getvalue(), out_file)


def load_mask_net(path: str, env) -> nn.Module:
    """Load a saved network for ``env``'s observations, in eval mode.

    Raises:
        TSCIInputError: ``path`` does not exist, or holds a network trained
            on another observation shape.
    """
    if not osp.isfile(path):
        raise TSCIInputError(f'mask network {path} does not exist; train '
                             'one with projects/TSCI/train_mask.py')
    ckpt = safe_torch_load(path)
    expected = list(env.observation_space.shape)
    if ckpt.get('obs_shape') != expected:
        raise TSCIInputError(
            f'mask network {path} was trained on {ckpt.get("env_id")} '
            f'observations of shape {ckpt.get("obs_shape")}, but '
            f'{env.spec.id} gives {expected}')
    net = MODELS.build(ckpt['mask_net'])
    net.load_state_dict(ckpt['state_dict'])
    return net.eval().requires_grad_(False)
