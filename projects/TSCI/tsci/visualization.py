"""Masks over frames: PNG strips of windows and an animated GIF of an
episode."""
import os
import os.path as osp
from typing import List

import matplotlib
import mmengine
import numpy as np
import torch
from mmengine.logging import MMLogger
from mmext.utils import require

from .agent import initial_state, load_agent, policy_logits
from .envs import TSCIInputError, make_env
from .evaluation import saliency_fns
from .mask_training import load_mask_net

imageio = require('imageio', 'imageio', 'the GIFs of projects/TSCI')


def render_frame(obs: np.ndarray, scale: int) -> np.ndarray:
    """``(C, H, W)`` observation -> ``(H * scale, W * scale, 3)`` float RGB.

    One channel (Atari) is grayscale; object channels (MinAtar) get the
    colours of matplotlib's ``tab10``/``tab20``, black where no object is.
    """
    if obs.shape[0] == 1:
        rgb = np.repeat(obs[0][..., None], 3, -1)
    else:
        palette = matplotlib.colormaps['tab20' if obs.shape[0] > 10 else
                                       'tab10'].colors
        colours = np.asarray(palette[:obs.shape[0]])
        top = obs.argmax(0)
        rgb = colours[top] * (obs.max(0) > 0)[..., None]
    return np.kron(rgb, np.ones((scale, scale, 1)))


def overlay(frame: np.ndarray, mask: np.ndarray, scale: int) -> np.ndarray:
    """Blend a frame with the ``inferno`` colouring of its ``(H, W)`` mask
    (mask in ``[0, 1]``; the frame dims where the mask is low)."""
    mask = np.kron(mask, np.ones((scale, scale)))
    heat = matplotlib.colormaps['inferno'](mask)[..., :3]
    return frame * (0.25 + 0.75 * mask[..., None]) * 0.6 + heat * 0.4


def _to_uint8(img: np.ndarray) -> np.ndarray:
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def _normalise(sal: torch.Tensor) -> np.ndarray:
    """``(K, H, W)`` saliency -> ``[0, 1]`` (divided by its maximum)."""
    sal = sal.clamp(min=0)
    return (sal / sal.max().clamp(min=1e-12)).numpy()


@torch.no_grad()
def visualize(cfg: mmengine.Config, agent_file: str, mask_file: str,
              out_dir: str, methods: List[str]) -> List[str]:
    """Write, for each method, ``<method>_strip_<i>.png`` (raw frames over
    masked frames of ``vis.num_strips`` windows of one episode) and
    ``<method>_episode.gif`` (each step's frame beside its mask).

    Returns:
        list[str]: The written files.
    """
    vcfg = cfg.vis
    env = make_env(cfg.env_id, vcfg.seed)
    policy = load_agent(agent_file, env).policy
    fns = saliency_fns(policy, load_mask_net(mask_file, env), cfg.evaluation,
                       vcfg.seed)
    # one greedy episode, with the state before every step
    obs, _ = env.reset(seed=vcfg.seed)
    state = initial_state(policy, 1)
    frames, states = [], []
    for _ in range(vcfg.max_steps):
        frames.append(torch.from_numpy(obs))
        states.append(state)
        logits, state = policy_logits(policy, frames[-1][None, None], state)
        obs, _, term, trunc, _ = env.step(int(logits[0, 0].argmax()))
        if term or trunc:
            break
    K, scale = cfg.window, vcfg.scale
    if len(frames) < K:
        raise TSCIInputError(
            f'the greedy episode of vis.seed={vcfg.seed} ended after '
            f'{len(frames)} steps, fewer than the window of {K}; choose '
            'another vis.seed')
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for name in methods:
        masks = []
        bar = mmengine.ProgressBar(len(frames))
        for t in range(len(frames)):
            s = max(0, t - K + 1)
            window = torch.stack(frames[s:t + 1])[None]
            with torch.enable_grad():
                sal = fns[name](window, states[s])[0].detach()
            masks.append(_normalise(sal))
            bar.update()
        starts = np.linspace(0, len(frames) - K, vcfg.num_strips).round()
        for i, s in enumerate(starts.astype(int)):
            raw = [render_frame(frames[s + k].numpy(), scale)
                   for k in range(K)]
            mix = [overlay(raw[k], masks[s + K - 1][k], scale)
                   for k in range(K)]
            strip = np.concatenate(
                [np.concatenate(raw, 1), np.concatenate(mix, 1)], 0)
            path = osp.join(out_dir, f'{name}_strip_{i}.png')
            imageio.imwrite(path, _to_uint8(strip))
            written.append(path)
        gif = [
            _to_uint8(np.concatenate([
                render_frame(f.numpy(), scale),
                overlay(render_frame(f.numpy(), scale), m[-1], scale)
            ], 1)) for f, m in zip(frames, masks)
        ]
        path = osp.join(out_dir, f'{name}_episode.gif')
        imageio.mimsave(path, gif, duration=vcfg.frame_ms, loop=0)
        written.append(path)
    MMLogger.get_current_instance().info(
        f'wrote {len(written)} files to {out_dir}')
    return written
