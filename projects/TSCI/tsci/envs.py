"""Environments of TSCI: MinAtar and Atari (ale-py) as channel-first float
observations.

Both families give the agent, the mask network and the baselines the same
input: ``(C, H, W)`` float32 in ``[0, 1]``. MinAtar: its ``(10, 10, C)``
boolean object channels, transposed. Atari: ``ALE/*-v5`` with gymnasium's
``AtariPreprocessing`` (4-frame skip with max-pooling, 84x84 grayscale, up
to 30 no-ops) as ``(1, 84, 84)``; no frame stacking, the recurrent agent
carries the history. Masks are at this resolution.
"""
from typing import Dict, List

import numpy as np
from mmext.utils import require

gym = require('gymnasium', 'gymnasium', 'projects/TSCI environments')


class TSCIInputError(ValueError):
    """A file or name given to the project does not fit (an unknown
    environment id, a checkpoint for other observations); the commands
    print its message and exit without a traceback."""


def _register() -> None:
    """Register MinAtar's and ale-py's ids with gymnasium (idempotent)."""
    if not any(k.startswith('MinAtar/') for k in gym.registry):
        require('minatar.gym', 'MinAtar',
                'projects/TSCI MinAtar environments').register_envs()
    if not any(k.startswith('ALE/') for k in gym.registry):
        gym.register_envs(
            require('ale_py', 'ale-py', 'projects/TSCI Atari environments'))


class ChannelFirstFloat(gym.ObservationWrapper):
    """``(H, W, C)`` or ``(H, W)`` observations -> ``(C, H, W)`` float32."""

    def __init__(self, env: 'gym.Env') -> None:
        super().__init__(env)
        shape = env.observation_space.shape
        self._hwc = len(shape) == 3
        chw = (shape[2], shape[0], shape[1]) if self._hwc else (1, ) + shape
        self.observation_space = gym.spaces.Box(0.0, 1.0, chw, np.float32)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        obs = np.asarray(observation, dtype=np.float32)
        return np.ascontiguousarray(
            obs.transpose(2, 0, 1) if self._hwc else obs[None])


def check_env_id(env_id: str) -> None:
    """Stop with one message when ``env_id`` is not a MinAtar or ALE id."""
    _register()
    known = env_id in gym.registry and env_id.startswith(('MinAtar/', 'ALE/'))
    if not known:
        raise TSCIInputError(
            f'unknown environment id {env_id!r}: expected a MinAtar or '
            "ale-py gymnasium id such as 'MinAtar/Breakout-v1' or "
            "'ALE/Pong-v5' (MinAtar ids: " + ', '.join(
                sorted(k for k in gym.registry if k.startswith('MinAtar/')
                       and k.endswith('-v1'))) + ')')


def make_env(env_id: str, seed: int = 0) -> 'gym.Env':
    """One environment with ``(C, H, W)`` float32 observations in [0, 1].

    Args:
        env_id (str): E.g. ``'MinAtar/Breakout-v1'`` or ``'ALE/Pong-v5'``.
        seed (int): Seed of the first reset and of the action space.

    Returns:
        gym.Env: The wrapped environment, reset once with ``seed``.
    """
    check_env_id(env_id)
    if env_id.startswith('ALE/'):
        env = gym.wrappers.AtariPreprocessing(
            gym.make(env_id, frameskip=1),
            frame_skip=4,
            screen_size=84,
            grayscale_obs=True,
            scale_obs=True)
    else:
        env = gym.make(env_id)
    env = ChannelFirstFloat(env)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    return env


def object_channels(env: 'gym.Env') -> Dict[str, int]:
    """MinAtar's ``{object name: channel}``; empty for Atari.

    ALE games have no object channels; OCAtari, which extracts object
    positions from the Atari RAM, is not installable next to mmext (it pins
    numpy 1.26), so the object overlap is measured on MinAtar only.
    """
    game = getattr(env.unwrapped, 'game', None)
    return dict(game.env.channels) if game is not None else {}


def relevance_channels(env: 'gym.Env', names: List[str]) -> List[int]:
    """Channels of the named MinAtar objects, checked against the game."""
    channels = object_channels(env)
    unknown = [n for n in names if n not in channels]
    if unknown:
        raise TSCIInputError(
            f'{env.spec.id}: no object channels {unknown}; the game has '
            f'{sorted(channels)}')
    return [channels[n] for n in names]
