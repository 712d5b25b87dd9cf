"""Search of the Parameterized AP loss (Tao et al., NeurIPS 2021, Sec. 3.3;
the authors' ``tools/search.py``): truncated normals over the curves'
control points and the regression gradient scale, rewarded by the bbox mAP
of short proxy trainings, means updated by a PPO-style clipped objective.

Parameterisation (the authors'): per curve 8 numbers ``theta`` in
``[0, 1]``, one per coordinate of the 4 interior points, mapped
monotonically by ``p1 = t1``, ``pk = tk (1 - p(k-1)) + p(k-1)``; the initial
means ``(.2, .2, .25, .25, 1/3, 1/3, .5, .5)`` give the identity line. Per
loss one more number gives the gradient scale ``10 ** (2 t - 1)`` (initial
0.5: scale 1). Unlike the authors' released search, the sampled scale is
written into the config, so it really reaches the heads.
"""
import argparse
import json
import math
import os
import os.path as osp
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

CURVES = ('H1', 'H2', 'I1', 'I2', 'I3')
IDENTITY_THETA = (.2, .2, .25, .25, 1 / 3, 1 / 3, .5, .5)
DIMS_PER_LOSS = len(CURVES) * 8 + 1


def theta_to_loss(theta: Sequence[float]) -> dict:
    """``(41, )`` numbers in ``[0, 1]`` -> ``dict(ctrl_points=..., grad_scale=
    ...)`` for one :class:`PAPLoss` (curves in :data:`CURVES` order, 8
    numbers each, then the scale)."""
    theta = [float(t) for t in theta]
    if len(theta) != DIMS_PER_LOSS:
        raise ValueError(f'theta of one loss has {DIMS_PER_LOSS} numbers, '
                         f'got {len(theta)}')
    points = {}
    for c, name in enumerate(CURVES):
        t = theta[8 * c:8 * c + 8]
        xs, ys, px, py = [], [], 0., 0.
        for k in range(4):
            px = t[2 * k] * (1 - px) + px
            py = t[2 * k + 1] * (1 - py) + py
            xs.append(px)
            ys.append(py)
        flat = [0., 0.]
        for x, y in zip(xs, ys):
            flat += [x, y]
        points[name] = flat + [1., 1.]
    return dict(ctrl_points=points, grad_scale=10**(2 * theta[-1] - 1))


def initial_theta(num_losses: int) -> List[float]:
    """The identity curves and gradient scale 1 for each loss."""
    return (list(IDENTITY_THETA) * len(CURVES) + [0.5]) * num_losses


# ------------------------------------------------------------- the policy
def truncnorm_log_prob(x: Tensor, mean: Tensor, sigma: Tensor) -> Tensor:
    """Log-density of ``N(mean, sigma)`` truncated to ``[0, 1]`` at ``x``
    (elementwise, differentiable in ``mean``)."""
    a, b = (0 - mean) / sigma, (1 - mean) / sigma
    z = (x - mean) / sigma
    mass = torch.special.ndtr(b) - torch.special.ndtr(a)
    return -0.5 * z * z - 0.5 * math.log(2 * math.pi) - sigma.log() - \
        mass.clamp_min(1e-12).log()


def truncnorm_sample(mean: Tensor, sigma: Tensor, num: int,
                     gen: torch.Generator) -> Tensor:
    """``num`` samples ``(num, D)`` of the truncated normals, by the inverse
    CDF."""
    lo = torch.special.ndtr((0 - mean) / sigma)
    hi = torch.special.ndtr((1 - mean) / sigma)
    u = lo + (hi - lo) * torch.rand(num, mean.numel(), generator=gen,
                                    dtype=mean.dtype)
    x = mean + sigma * torch.special.ndtri(u.clamp(1e-12, 1 - 1e-12))
    return x.clamp(0, 1)


def ppo_update(mu_logit: Tensor, sigma_old: Tensor, sigma_new: Tensor,
               thetas: Tensor, rewards: Tensor, steps: int = 100,
               lr: float = 0.01, warmup: int = 30,
               clip: Tuple[float, float] = (0.9, 1.1)) -> Tensor:
    """New logit-space means after one round (the authors' ``argmax``).

    Advantage ``A = reward - mean reward``; Adam on ``mu_logit`` maximising
    ``mean(min(r A, r_clip A))`` with ``r = exp(sum_d dlogp_d)`` and each
    dimension's log-ratio clipped to ``log(clip)`` in ``r_clip``; the old
    log-probability uses the means before the update and ``sigma_old``, the
    new one ``sigma_new``. Learning rate: linear warm-up over ``warmup``
    steps, then linear decay to 0.
    """
    adv = rewards - rewards.mean()
    old = truncnorm_log_prob(thetas, torch.sigmoid(mu_logit),
                             sigma_old).detach()
    mu = mu_logit.detach().clone().requires_grad_()
    opt = torch.optim.Adam([mu], lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warmup if s < warmup else
        max(steps - s, 0) / (steps - warmup))
    lo, hi = math.log(clip[0]), math.log(clip[1])
    for _ in range(steps):
        new = truncnorm_log_prob(thetas, torch.sigmoid(mu), sigma_new)
        log_ratio = new - old
        ratio = log_ratio.sum(1).exp()
        clipped = log_ratio.clamp(lo, hi).sum(1).exp()
        loss = -torch.min(ratio * adv, clipped * adv).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return mu.detach()


# ------------------------------------------------------------ the search
def _write_json(path: str, data: dict) -> None:
    """Atomically: a killed process never leaves half a state file."""
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class PAPSearch:
    """The search loop; its state (``search_state.json`` in ``work_dir``)
    is written after every finished proxy training, so a killed search
    resumes where it stopped.

    Args:
        evaluate (callable): ``(theta list, sample work dir) -> reward``;
            must be picklable when ``workers > 1`` (it then runs in
            separate processes).
        num_losses (int): PAP losses in the detector (1 RetinaNet, 2 Faster
            R-CNN: RPN then R-CNN).
        work_dir (str): State, log and per-sample work directories.
        rounds (int): Rounds (authors: 40).
        samples (int): Proxy trainings per round (authors: 8).
        sigma (float): Initial standard deviation (0.2), annealed linearly
            to 0 over the rounds (kept on the last one).
        workers (int): Proxy trainings run in parallel.
        seed (int): Sampling seed.
        logger (callable, optional): ``logger(message)``.
    """

    def __init__(self,
                 evaluate: Callable[[List[float], str], float],
                 num_losses: int,
                 work_dir: str,
                 rounds: int = 40,
                 samples: int = 8,
                 sigma: float = 0.2,
                 workers: int = 1,
                 seed: int = 0,
                 logger: Optional[Callable[[str], None]] = None) -> None:
        self.evaluate = evaluate
        self.work_dir = work_dir
        self.rounds, self.samples, self.workers = rounds, samples, workers
        self.seed = seed
        self.log = logger or print
        self.state_file = osp.join(work_dir, 'search_state.json')
        os.makedirs(work_dir, exist_ok=True)
        if osp.isfile(self.state_file):
            with open(self.state_file, encoding='utf-8') as f:
                self.state = json.load(f)
            self.log(f'resuming at round {self.state["round"]}')
        else:
            mean = torch.tensor(initial_theta(num_losses),
                                dtype=torch.float64)
            self.state = dict(
                round=0,
                mu_logit=torch.logit(mean).tolist(),
                sigma=[sigma] * mean.numel(),
                current=None,
                history=[])

    def run(self) -> dict:
        """Run the remaining rounds; returns the final state."""
        while self.state['round'] < self.rounds:
            self._round()
        return self.state

    def _round(self) -> None:
        t = self.state['round']
        mu = torch.tensor(self.state['mu_logit'], dtype=torch.float64)
        sigma = torch.tensor(self.state['sigma'], dtype=torch.float64)
        if self.state['current'] is None:
            gen = torch.Generator().manual_seed(self.seed * 100003 + t)
            thetas = truncnorm_sample(torch.sigmoid(mu), sigma, self.samples,
                                      gen)
            self.state['current'] = dict(thetas=thetas.tolist(),
                                         rewards=[None] * self.samples)
            _write_json(self.state_file, self.state)
        cur = self.state['current']
        todo = [i for i, r in enumerate(cur['rewards']) if r is None]
        dirs = {i: osp.join(self.work_dir, f'round{t:03d}_sample{i}')
                for i in todo}
        if self.workers > 1 and len(todo) > 1:
            import multiprocessing
            with ProcessPoolExecutor(
                    self.workers,
                    mp_context=multiprocessing.get_context('spawn')) as pool:
                futures = {i: pool.submit(self.evaluate, cur['thetas'][i],
                                          dirs[i]) for i in todo}
                for i, fut in futures.items():
                    self._record(t, i, fut.result())
        else:
            for i in todo:
                self._record(t, i, self.evaluate(cur['thetas'][i], dirs[i]))
        thetas = torch.tensor(cur['thetas'], dtype=torch.float64)
        rewards = torch.tensor(cur['rewards'], dtype=torch.float64)
        last = t == self.rounds - 1
        new_sigma = sigma if last else \
            sigma * (self.rounds - t - 1) / (self.rounds - t)
        new_mu = ppo_update(mu, sigma, new_sigma, thetas, rewards)
        self.state['history'].append(
            dict(round=t, mu_logit=self.state['mu_logit'],
                 sigma=self.state['sigma'], thetas=cur['thetas'],
                 rewards=cur['rewards']))
        self.state.update(round=t + 1, mu_logit=new_mu.tolist(),
                          sigma=new_sigma.tolist(), current=None)
        _write_json(self.state_file, self.state)
        self.log(f'round {t}: rewards {[round(r, 4) for r in cur["rewards"]]}'
                 f', best {max(cur["rewards"]):.4f}, sigma '
                 f'{new_sigma[0].item():.4f}')

    def _record(self, t: int, i: int, reward: float) -> None:
        reward = float(reward) if reward == reward else 0.0  # NaN -> 0
        self.state['current']['rewards'][i] = reward
        _write_json(self.state_file, self.state)
        self.log(f'round {t} sample {i}: reward {reward:.4f}')


def mean_losses(state: dict) -> List[dict]:
    """The losses at the current means (one dict per loss)."""
    mean = torch.sigmoid(torch.tensor(state['mu_logit'])).tolist()
    return [theta_to_loss(mean[k:k + DIMS_PER_LOSS])
            for k in range(0, len(mean), DIMS_PER_LOSS)]


def plot_search(state: dict, out_file: str) -> None:
    """The mean curves of every round (light to dark) and the rewards."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    rounds = state['history']
    num_losses = len(state['mu_logit']) // DIMS_PER_LOSS
    fig, axes = plt.subplots(num_losses, len(CURVES) + 1,
                             figsize=(3 * (len(CURVES) + 1),
                                      3 * num_losses), squeeze=False)
    snapshots = [h['mu_logit'] for h in rounds] + [state['mu_logit']]
    for r, mu in enumerate(snapshots):
        color = plt.cm.viridis(r / max(len(snapshots) - 1, 1))
        losses = mean_losses(dict(mu_logit=mu))
        for k, loss in enumerate(losses):
            for c, name in enumerate(CURVES):
                pts = loss['ctrl_points'][name]
                axes[k][c].plot(pts[0::2], pts[1::2], '-o', color=color,
                                ms=2, lw=1)
                axes[k][c].set_title(f'loss {k} {name}')
    for k in range(num_losses):
        ax = axes[k][-1]
        for h in rounds:
            ax.scatter([h['round']] * len(h['rewards']), h['rewards'], s=6,
                       color='gray')
        ax.plot([h['round'] for h in rounds],
                [max(h['rewards']) for h in rounds], color='k')
        ax.set_title('reward (bbox mAP)')
    fig.tight_layout()
    fig.savefig(out_file, dpi=80)
    plt.close(fig)


# ------------------------------------------------------- proxy training
#: Where the PAP losses sit in the detectors' model configs, in theta order.
LOSS_KEYS: Dict[str, Tuple[Tuple[str, ...], ...]] = {
    'RetinaNet': (('bbox_head', 'loss_cls'), ),
    'FasterRCNN': (('rpn_head', 'loss_cls'), ('roi_head', 'bbox_head',
                                              'loss_cls')),
}


def apply_theta(model_cfg: dict, theta: Sequence[float]) -> None:
    """Write the losses of ``theta`` into a detector's model config."""
    keys = LOSS_KEYS[model_cfg['type']]
    if len(theta) != DIMS_PER_LOSS * len(keys):
        raise ValueError(f'{model_cfg["type"]} has {len(keys)} PAP losses: '
                         f'theta needs {DIMS_PER_LOSS * len(keys)} numbers, '
                         f'got {len(theta)}')
    for k, path in enumerate(keys):
        node = model_cfg
        for key in path:
            node = node[key]
        node.pop('preset', None)
        node.update(theta_to_loss(theta[k * DIMS_PER_LOSS:(k + 1) *
                                        DIMS_PER_LOSS]))


class ProxyTraining:
    """Reward of one theta: train the config (a short proxy schedule) and
    return its ``coco/bbox_mAP`` on the validation split; a run that fails
    (NaN logits stop the loss with an error) scores 0. Picklable, so
    proxy trainings can run in separate processes.

    Args:
        config (str): Proxy config (train on the search split, validate on
            the held-out split, never on val2017).
        cfg_options (dict, optional): Overrides merged into the config.
        metric (str): Reward key in the validation metrics.
    """

    def __init__(self, config: str, cfg_options: Optional[dict] = None,
                 metric: str = 'coco/bbox_mAP') -> None:
        self.config, self.cfg_options, self.metric = config, cfg_options, \
            metric

    def __call__(self, theta: List[float], work_dir: str) -> float:
        from mmengine.config import Config
        from mmengine.registry import init_default_scope
        from mmengine.runner import Runner

        cfg = Config.fromfile(self.config)
        if self.cfg_options:
            cfg.merge_from_dict(self.cfg_options)
        apply_theta(cfg.model, theta)
        cfg.work_dir = work_dir
        cfg.experiment_name = osp.basename(work_dir)
        cfg.train_cfg.val_begin = 10**9  # validate once, after training
        init_default_scope(cfg.get('default_scope', 'mmdet'))
        try:
            runner = Runner.from_cfg(cfg)
            runner.train()
            metrics = runner.val_loop.run()
        except (ValueError, FloatingPointError) as err:
            print(f'{work_dir}: proxy training failed ({err}); reward 0')
            return 0.0
        return float(metrics[self.metric])


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Search the Parameterized AP loss (resumable)')
    parser.add_argument('config', help='proxy training config')
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--rounds', type=int, default=40)
    parser.add_argument('--samples', type=int, default=8)
    parser.add_argument('--sigma', type=float, default=0.2)
    parser.add_argument('--workers', type=int, default=1,
                        help='proxy trainings in parallel processes')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Run (or resume) a search; writes ``search_state.json``,
    ``search.log``, ``searched_losses.json`` (the losses at the final
    means) and ``search.png``."""
    from mmengine.config import Config
    from mmengine.logging import MMLogger

    args = parse_args(argv)
    os.makedirs(args.work_dir, exist_ok=True)
    logger = MMLogger.get_instance(
        'pap_search', log_file=osp.join(args.work_dir, 'search.log'))
    model_type = Config.fromfile(args.config).model['type']
    search = PAPSearch(
        ProxyTraining(args.config), len(LOSS_KEYS[model_type]),
        args.work_dir, rounds=args.rounds, samples=args.samples,
        sigma=args.sigma, workers=args.workers, seed=args.seed,
        logger=logger.info)
    state = search.run()
    _write_json(osp.join(args.work_dir, 'searched_losses.json'),
                dict(losses=mean_losses(state)))
    plot_search(state, osp.join(args.work_dir, 'search.png'))
    return state


if __name__ == '__main__':
    main()
