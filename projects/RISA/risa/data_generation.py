"""RISA's training data: every generator snapshot's outputs on fixed
(source, reference) pairs, weakly labelled by the snapshot's iteration,
with labels refined by pixel-wise interpolation between snapshots around
the elbow of the Fréchet distance over training (Guo et al., Sec. 3.1)."""
import os.path as osp
import re
from typing import Dict, Sequence, Tuple

import numpy as np
import torch
from mmengine.registry import DATASETS
from mmengine.utils import ProgressBar
from torch import Tensor
from torch.utils.data import Dataset

from mmext.evaluation import frechet_distance
from .feature_net import feature_net_model
from .images import SkimagePairs
from .training import load_model

#: Iteration count in a snapshot's file name (``snapshot_iter_500.pth``).
SNAPSHOT_ITER = re.compile(r'snapshot_iter_(\d+)\.pth$')


def snapshot_iteration(path: str) -> int:
    """The training iteration of a ``snapshot_iter_{n}.pth`` file."""
    match = SNAPSHOT_ITER.search(osp.basename(path))
    if match is None:
        raise ValueError(f'projects/RISA: {path!r} is not an iteration '
                         'snapshot (expected snapshot_iter_<n>.pth)')
    return int(match.group(1))


def elbow_index(x: Sequence[float], y: Sequence[float]) -> int:
    """Index of the elbow of a decreasing curve ``y(x)``: the point farthest
    below the chord from the first to the last point, both axes scaled to
    ``[0, 1]`` (the "kneedle" rule, Satopaa et al., 2011)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    xs = (x - x[0]) / (x[-1] - x[0])
    span = y.max() - y.min()
    ys = (y - y.min()) / (span if span > 0 else 1)
    chord = ys[0] + (ys[-1] - ys[0]) * xs
    return int(np.argmax(chord - ys))


def pixel_interpolation(x_a: Tensor, x_b: Tensor, alpha: Tensor,
                        generator: torch.Generator) -> Tensor:
    """``M * x_a + (1 - M) * x_b`` with a per-pixel Bernoulli(``alpha``)
    mask ``M`` shared by the channels: a fraction ``alpha`` of the pixels
    comes from ``x_a`` (mmext's reading of the paper's pixel-wise
    interpolation).

    Shapes: ``x_a, x_b: (N, C, H, W)``, ``alpha: (N, )`` ->
    ``(N, C, H, W)``.
    """
    n, _, h, w = x_a.shape
    mask = torch.rand(n, 1, h, w, generator=generator) < alpha[:, None,
                                                               None, None]
    return torch.where(mask, x_a, x_b)


def fixed_pairs(image_cfg: dict, num: int, seed: int) -> Tuple[Tensor,
                                                               Tensor]:
    """``num`` fixed (source, reference) crops, ``(num, 3, H, W)`` each."""
    pairs = SkimagePairs(**image_cfg, length=num, seed=seed)
    items = [pairs[i] for i in range(num)]
    return (torch.stack([it['content'] for it in items]),
            torch.stack([it['style'] for it in items]))


def to_uint8(x: Tensor) -> Tensor:
    """``[0, 1]`` floats to uint8 (as the images would be saved)."""
    return (x.clamp(0, 1) * 255).round().to(torch.uint8)


@torch.no_grad()
def snapshot_outputs(generator_cfg: dict, snapshots: Sequence[str],
                     sources: Tensor, references: Tensor,
                     batch_size: int = 64) -> Tensor:
    """Outputs of every snapshot on the fixed pairs.

    Returns:
        Tensor: ``(S, N, 3, H, W)`` uint8.
    """
    outputs = []
    bar = ProgressBar(len(snapshots))
    for path in snapshots:
        model = load_model(generator_cfg, path)
        outputs.append(
            torch.cat([
                to_uint8(model(s, r)) for s, r in zip(
                    sources.split(batch_size), references.split(batch_size))
            ]))
        bar.update()
    return torch.stack(outputs)


@torch.no_grad()
def image_features(model, images: Tensor, batch_size: int = 256) -> Tensor:
    """``(N, D)`` features of ``(N, 3, H, W)`` uint8 images."""
    return torch.cat(
        [model(x.float() / 255) for x in images.split(batch_size)])


def _samples(outputs: Tensor, references: Tensor, labels: Sequence[float],
             snapshot_ids: Sequence[int],
             pair_ids: Sequence[int]) -> Dict[str, Tensor]:
    """One sample per (snapshot, pair): the flat tensors of a split (the
    pair's index is its reference's id and its group)."""
    s, p = np.meshgrid(snapshot_ids, pair_ids, indexing='ij')
    s, p = torch.from_numpy(s.ravel()), torch.from_numpy(p.ravel())
    return dict(generated=outputs[s, p],
                reference=references[p],
                label=torch.tensor(labels, dtype=torch.float32)[s],
                ref_id=p,
                group=p,
                snapshot=s)


def generate_data(cfg: dict, snapshots: Sequence[str], feature_ckpt: str,
                  out_file: str) -> dict:
    """Generate and save RISA's training and held-out data.

    - Pairs: ``num_train_pairs`` and ``num_test_pairs`` fixed (source,
      reference) crops, drawn with different seeds.
    - Labels: a snapshot's iteration over the last snapshot's (``(0, 1]``).
    - Held-out snapshots: every ``heldout_every``-th (indices
      ``heldout_every - 1, 2 * heldout_every - 1, ...``); their outputs on
      the test pairs are the test split, never seen in training.
    - Fréchet distance of each snapshot: between the feature-network
      features of its outputs on all pairs and those of the references.
    - Refinement: for the training snapshots within ``elbow_window``
      positions of the elbow (:func:`elbow_index`) and every consecutive
      two of them, ``num_interp`` images per training pair,
      :func:`pixel_interpolation` with ``alpha ~ U(0, 1)`` and the label
      ``alpha * l_a + (1 - alpha) * l_b``.

    Args:
        cfg (dict): The project config (``images``, ``generator.model``,
            ``feature_net.model`` and the above keys in ``data``).
        snapshots (Sequence[str]): Generator snapshot paths.
        feature_ckpt (str): Checkpoint of the feature network.
        out_file (str): Where the data is saved (``torch.save``).

    Returns:
        dict: The summary (iterations, Fréchet distances, elbow, sizes).
    """
    data_cfg = cfg['data']
    snapshots = sorted(snapshots, key=snapshot_iteration)
    iters = [snapshot_iteration(p) for p in snapshots]
    num_snap = len(snapshots)
    every = data_cfg['heldout_every']
    heldout = [i for i in range(num_snap) if i % every == every - 1]
    train_snaps = [i for i in range(num_snap) if i not in heldout]
    if len(heldout) < 2 or len(train_snaps) < 2:
        raise ValueError(
            f'projects/RISA: {num_snap} snapshots with heldout_every='
            f'{every} leave {len(train_snaps)} for training and '
            f'{len(heldout)} held out; need at least 2 of each')
    labels = [it / iters[-1] for it in iters]
    n_train = data_cfg['num_train_pairs']
    n_test = data_cfg['num_test_pairs']
    sources, references = fixed_pairs(cfg['images'], n_train + n_test,
                                      data_cfg['seed'])
    outputs = snapshot_outputs(cfg['generator']['model'], snapshots,
                               sources, references)

    feature_net = load_model(feature_net_model(cfg), feature_ckpt)
    real = image_features(feature_net, to_uint8(references))
    fd = [
        frechet_distance(image_features(feature_net, out), real)
        for out in outputs
    ]
    elbow = elbow_index(iters, fd)

    train_ids, test_ids = range(n_train), range(n_train, n_train + n_test)
    refs8 = to_uint8(references)
    train = _samples(outputs, refs8, labels, train_snaps, train_ids)
    window = [
        i for i in train_snaps if abs(i - elbow) <= data_cfg['elbow_window']
    ]
    gen = torch.Generator().manual_seed(data_cfg['seed'])
    interp = []
    for a, b in zip(window[:-1], window[1:]):
        for _ in range(data_cfg['num_interp']):
            alpha = torch.rand(n_train, generator=gen)
            interp.append(dict(
                generated=pixel_interpolation(outputs[a, :n_train],
                                              outputs[b, :n_train], alpha,
                                              gen),
                reference=refs8[:n_train],
                label=alpha * labels[a] + (1 - alpha) * labels[b],
                ref_id=torch.arange(n_train),
                group=torch.arange(n_train),
                snapshot=torch.full((n_train, ), -1)))
    train = {k: torch.cat([train[k]] + [d[k] for d in interp])
             for k in train}
    test = _samples(outputs, refs8, labels, heldout, test_ids)
    test['source'] = to_uint8(sources)[test['group']]
    summary = dict(iterations=iters, frechet_distance=fd, elbow=elbow,
                   elbow_iteration=iters[elbow],
                   interpolated_between=[iters[i] for i in window],
                   heldout_iterations=[iters[i] for i in heldout],
                   num_train=len(train['label']),
                   num_test=len(test['label']))
    torch.save(dict(train=train, test=test, summary=summary), out_file)
    return summary


def load_split(data_file: str, split: str) -> Dict[str, Tensor]:
    """One split (``'train'`` or ``'test'``) of a generated data file."""
    if not osp.isfile(data_file):
        raise FileNotFoundError(f'projects/RISA: no data file {data_file!r} '
                                '(run the generate step first)')
    return torch.load(data_file, map_location='cpu', weights_only=True)[split]


@DATASETS.register_module()
class RISADataset(Dataset):
    """A split of the generated data as the assessor's training samples.

    Items: ``generated`` and ``reference`` ``(3, H, W)`` floats in
    ``[0, 1]``, ``label`` (float), ``ref_id`` and ``group`` (int).
    """

    def __init__(self, data_file: str, split: str = 'train') -> None:
        self.data = load_split(data_file, split)

    def __len__(self) -> int:
        return len(self.data['label'])

    def __getitem__(self, idx: int) -> Dict[str, Tensor]:
        d = self.data
        return dict(generated=d['generated'][idx].float() / 255,
                    reference=d['reference'][idx].float() / 255,
                    label=d['label'][idx],
                    ref_id=d['ref_id'][idx],
                    group=d['group'][idx])
