"""Fidelity of TSCI's masks and of the baselines, all with the same
measures (mmext.evaluation.PolicyAttributionMetric)."""
from collections import deque
from functools import partial
from typing import Callable, Dict, List, Optional

import mmengine
import numpy as np
import torch
from mmengine.logging import MMLogger
from mmext.evaluation import (deletion_insertion_curves, mask_coverage,
                              mask_overlap, random_masks, top_k_masks)
from mmext.registry import METRICS

from .agent import (LSTMState, collect_episodes, initial_state, load_agent,
                    policy_logits)
from .baselines import (gradient_saliency, occlusion_saliency,
                        perturbation_saliency)
from .envs import TSCIInputError, make_env, relevance_channels
from .mask_training import WindowSampler, load_mask_net, mask_history

#: ``(window (B, K, C, H, W), state) -> (B, K, H, W)`` saliency.
SaliencyFn = Callable[[torch.Tensor, LSTMState], torch.Tensor]

METHODS = ('tsci', 'gradient', 'occlusion', 'perturbation', 'random')


def saliency_fns(policy, mask_net, ecfg: mmengine.Config,
                 seed: int) -> Dict[str, SaliencyFn]:
    """The saliency function of every method in :data:`METHODS`."""
    gen = torch.Generator().manual_seed(seed)

    def tsci(window, state):
        return mask_net(window)

    def uniform(window, state):
        B, K, _, H, W = window.shape
        return torch.rand(B, K, H, W, generator=gen)

    return dict(
        tsci=tsci,
        gradient=partial(gradient_saliency, policy),
        occlusion=partial(occlusion_saliency, policy, **ecfg.occlusion),
        perturbation=partial(perturbation_saliency, policy,
                             **ecfg.perturbation),
        random=uniform)


def keep_area(ecfg: mmengine.Config, obs_shape) -> int:
    """Pixels per frame a mask keeps: ``round(keep_fraction * H * W)``."""
    return round(ecfg.keep_fraction * obs_shape[-1] * obs_shape[-2])


def window_samples(policy, fn: SaliencyFn, obs: torch.Tensor,
                   state: LSTMState, window: int, area: int,
                   num_decisions: int, deletion_steps: int,
                   relevant: Optional[List[int]],
                   gen: torch.Generator) -> List[dict]:
    """Data samples of :class:`PolicyAttributionMetric` for one batch.

    The agent sees only the ``area`` most salient pixels of each history
    frame (or ``area`` random pixels), then the unmasked following frames;
    its decisions at ``t..t+num_decisions-1`` are compared with those on
    the unmasked sequence. The deletion and insertion curves follow the
    probability of the unmasked greedy action at ``t``.

    Args:
        obs (Tensor): ``(B, K + L, C, H, W)``.
        state (tuple): ``(h, c)`` before the first frame.
    """
    hist = obs[:, :window]
    sal = fn(hist, state).detach()
    keep = top_k_masks(sal, area)
    rand = random_masks(keep.shape, area, generator=gen)
    with torch.no_grad():
        ref = policy_logits(policy, obs, state)[0]
        kept = policy_logits(policy, mask_history(obs, keep), state)[0]
        rnd = policy_logits(policy, mask_history(obs, rand), state)[0]
        action = ref[:, window - 1].argmax(-1)

        def prob_of_action(x):
            logits = policy_logits(policy, x, state)[0][:, -1]
            return logits.softmax(-1).gather(1, action[:, None])[:, 0]

        dele, ins = deletion_insertion_curves(prob_of_action, hist,
                                              sal[:, :, None],
                                              deletion_steps)
    steps = slice(window - 1, window - 1 + num_decisions)
    samples = [
        dict(ref_logits=ref[i, steps], masked_logits=kept[i, steps],
             random_logits=rnd[i, steps], deletion=dele[i],
             insertion=ins[i]) for i in range(obs.shape[0])
    ]
    if relevant:
        objects = hist[:, :, relevant].amax(2)
        for key, fn in (('overlap', mask_overlap),
                        ('coverage', mask_coverage)):
            for s, o, r in zip(samples, fn(keep, objects),
                               fn(rand, objects)):
                s.update({key: o.item(), f'random_{key}': r.item()})
    return samples


@torch.no_grad()
def masked_return(policy, env, fn: Optional[SaliencyFn], window: int,
                  area: int, num_episodes: int, seed: int,
                  max_episode_steps: int, mode: str) -> float:
    """Mean return of the agent acting on masked observations.

    At each step the method explains the window of the last ``window`` raw
    frames (fewer at an episode's start) from the agent's state before the
    window; the agent sees the current frame times the top-``area`` mask
    of its last frame (``mode='method'``), a random mask of the same area
    (``'random'``) or the unmasked frame (``'none'``), and carries its own
    LSTM state through what it sees. Actions are greedy.
    """
    gen = torch.Generator().manual_seed(seed)
    returns = []
    for ep in range(num_episodes):
        obs, _ = env.reset(seed=seed + ep)
        state = initial_state(policy, 1)
        frames, states = deque(maxlen=window), deque(maxlen=window)
        ret, done, steps = 0.0, False, 0
        while not done:
            x = torch.from_numpy(obs)[None]
            frames.append(x)
            states.append(state)
            if mode == 'none':
                seen = x
            else:
                if mode == 'method':
                    with torch.enable_grad():
                        sal = fn(torch.stack(list(frames), 1), states[0])
                    keep = top_k_masks(sal[:, -1].detach(), area)
                else:
                    keep = random_masks(x.shape[:1] + x.shape[2:], area,
                                        generator=gen)
                seen = x * keep[:, None]
            logits, state = policy_logits(policy, seen[:, None], state)
            obs, reward, term, trunc, _ = env.step(int(logits[0, 0].argmax()))
            ret += float(reward)
            steps += 1
            done = term or trunc or steps >= max_episode_steps
        returns.append(ret)
    return float(np.mean(returns))


def evaluate(cfg: mmengine.Config, agent_file: str, mask_file: str,
             methods: List[str]) -> Dict[str, Dict[str, float]]:
    """All fidelity measures of each method on held-out rollouts.

    Returns:
        dict: ``{method: {metric: value}}`` with the keys of
        :class:`PolicyAttributionMetric` and, with
        ``evaluation.return_episodes > 0``, ``return`` (the mean return
        on masked inputs); then ``'random_mask'`` and ``'none_mask'`` hold
        the return with equal-area random masks and without masks.
    """
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise TSCIInputError(f'unknown methods {unknown}; expected some '
                             f'of {list(METHODS)}')
    ecfg = cfg.evaluation
    if not 1 <= ecfg.num_decisions <= cfg.horizon + 1:
        raise TSCIInputError(
            f'evaluation.num_decisions={ecfg.num_decisions}; expected 1 to '
            f'horizon + 1 = {cfg.horizon + 1}')
    logger = MMLogger.get_current_instance()
    seed = ecfg.seed
    env = make_env(cfg.env_id, seed)
    policy = load_agent(agent_file, env).policy
    mask_net = load_mask_net(mask_file, env)
    relevant = relevance_channels(env, ecfg.relevant_objects) \
        if ecfg.relevant_objects else None
    area = keep_area(ecfg, env.observation_space.shape)
    episodes = collect_episodes(policy, env, ecfg.num_env_steps, True, seed,
                                ecfg.max_episode_steps)
    sampler = WindowSampler(episodes, cfg.window, cfg.horizon)
    ids = np.linspace(0, len(sampler) - 1,
                      min(ecfg.num_windows, len(sampler))).round()
    ids = ids.astype(int).tolist()
    fns = saliency_fns(policy, mask_net, ecfg, seed)
    results = {}
    for name in methods:
        metric = METRICS.build(dict(type='PolicyAttributionMetric'))
        gen = torch.Generator().manual_seed(seed)
        bar = mmengine.ProgressBar(len(ids))
        for i in range(0, len(ids), ecfg.batch_size):
            obs, state = sampler.batch(ids[i:i + ecfg.batch_size])
            metric.process(
                None,
                window_samples(policy, fns[name], obs, state, cfg.window,
                               area, ecfg.num_decisions,
                               ecfg.deletion_steps, relevant, gen))
            bar.update(obs.shape[0])
        res = {
            k.split('/', 1)[1]: v
            for k, v in metric.evaluate(len(ids)).items()
        }
        if ecfg.return_episodes:
            res['return'] = masked_return(policy, env, fns[name], cfg.window,
                                          area, ecfg.return_episodes, seed,
                                          ecfg.max_episode_steps, 'method')
        logger.info(f'{name}: ' + ', '.join(f'{k} {v:.4f}'
                                            for k, v in res.items()))
        results[name] = res
    if ecfg.return_episodes:
        for mode in ('random', 'none'):
            results[f'{mode}_mask'] = {
                'return':
                masked_return(policy, env, None, cfg.window, area,
                              ecfg.return_episodes, seed,
                              ecfg.max_episode_steps, mode)
            }
    return results
