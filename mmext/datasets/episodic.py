"""Episodic few-shot sampling over any mmpretrain or mmaction2 dataset.

An episode is ``num_ways`` classes drawn from the split's classes, each with
``num_shots`` support and ``num_queries`` query samples, no sample in both.
It is a pure function of ``(seed, index)`` (:func:`sample_episode`), so every
method, every run and every process sees the same episodes: the meta-test
(:class:`mmext.engine.MetaTestLoop`) and the episodic training set
(:class:`EpisodicDataset`) both draw from it.

Layout, as mmfewshot's ``EpisodicDataset`` wrapper: the wrapped dataset keeps
its pipeline; the wrapper only chooses indices and relabels the samples with
their episode label ``0 .. num_ways - 1``. :func:`episode_collate` flattens a
batch of episodes for the model's data preprocessor.
"""
import copy
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import pseudo_collate
from mmengine.dist import get_dist_info
from mmengine.registry import FUNCTIONS
from torch.utils.data import Dataset, Sampler

from mmext.registry import DATA_SAMPLERS, DATASETS
from mmext.utils.validation import check_arg

__all__ = [
    'Episode', 'sample_episode', 'class_index', 'dataset_labels',
    'EpisodicDataset', 'EpisodicSampler', 'episode_collate'
]

#: Metainfo keys set on every sample of an episode.
SUPPORT_KEY = 'episode_support'
EPISODE_KEY = 'episode_idx'


class Episode(NamedTuple):
    """One N-way K-shot episode, as indices into a dataset.

    Attributes:
        classes (np.ndarray): ``(N, )`` dataset labels of the episode's
            classes; episode label ``i`` is ``classes[i]``.
        support (np.ndarray): ``(N * K, )`` dataset indices, class by class.
        query (np.ndarray): ``(N * Q, )`` dataset indices, class by class.
        support_labels (np.ndarray): ``(N * K, )`` episode labels.
        query_labels (np.ndarray): ``(N * Q, )`` episode labels.
    """
    classes: np.ndarray
    support: np.ndarray
    query: np.ndarray
    support_labels: np.ndarray
    query_labels: np.ndarray


def class_index(labels: Sequence[int]) -> Dict[int, np.ndarray]:
    """``{label: sorted indices of the samples of that label}``."""
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    return {int(c): np.flatnonzero(labels == c) for c in np.unique(labels)}


def check_episode_request(index: Dict[int, np.ndarray], num_ways: int,
                          num_shots: int, num_queries: int,
                          owner: str = 'episode') -> np.ndarray:
    """The classes able to fill an episode; raise if fewer than ``num_ways``.

    Raises:
        ValueError: naming ``num_ways``/``num_shots``/``num_queries``, their
            values and what the split holds.
    """
    need = num_shots + num_queries
    eligible = np.array(
        sorted(c for c, idx in index.items() if len(idx) >= need),
        dtype=np.int64)
    if len(eligible) < num_ways:
        counts = sorted(len(v) for v in index.values())
        smallest = counts[0] if counts else 0
        raise ValueError(
            f'{owner}: num_ways={num_ways}, num_shots={num_shots}, '
            f'num_queries={num_queries} cannot be satisfied: the split has '
            f'{len(index)} classes, {len(eligible)} of them with at least '
            f'num_shots + num_queries = {need} samples (smallest class: '
            f'{smallest}, largest: {counts[-1] if counts else 0})')
    return eligible


def sample_episode(index: Dict[int, np.ndarray], num_ways: int,
                   num_shots: int, num_queries: int, seed: int,
                   episode: int) -> Episode:
    """Draw episode number ``episode`` of the stream seeded with ``seed``.

    Classes are drawn among those with at least ``num_shots + num_queries``
    samples; within a class, one permutation gives the support (first
    ``num_shots``) and the queries (next ``num_queries``), so none is shared.
    The generator is ``np.random.default_rng([seed, episode])``: an episode
    depends on nothing but ``(seed, episode)`` and the split.

    Args:
        index: ``{label: sample indices}`` (:func:`class_index`).
        num_ways, num_shots, num_queries: N, K and Q.
        seed: Stream seed (>= 0).
        episode: Episode number (>= 0).

    Returns:
        Episode: indices and episode labels.
    """
    eligible = check_episode_request(index, num_ways, num_shots, num_queries)
    rng = np.random.default_rng([int(seed), int(episode)])
    classes = rng.choice(eligible, num_ways, replace=False)
    support, query = [], []
    for c in classes:
        pick = rng.choice(index[int(c)], num_shots + num_queries,
                          replace=False)
        support.append(pick[:num_shots])
        query.append(pick[num_shots:])
    ways = np.arange(num_ways, dtype=np.int64)
    return Episode(classes, np.concatenate(support), np.concatenate(query),
                   np.repeat(ways, num_shots), np.repeat(ways, num_queries))


def dataset_labels(dataset) -> np.ndarray:
    """``(len(dataset), )`` labels of an mmpretrain dataset
    (``get_gt_labels``) or of an mmaction2 one (``label`` of each data
    info)."""
    if hasattr(dataset, 'get_gt_labels'):
        return np.asarray(dataset.get_gt_labels(), dtype=np.int64)
    labels = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        label = info.get('label', info.get('gt_label'))
        if label is None:
            raise ValueError(
                f'{type(dataset).__name__}: sample {i} has no label '
                "('label' or 'gt_label' in its data info)")
        labels.append(int(np.asarray(label).reshape(-1)[0]))
    return np.asarray(labels, dtype=np.int64)


def _set_episode_fields(packed: dict, label: int, support: bool,
                        episode: int) -> dict:
    sample = packed['data_samples']
    sample.set_gt_label(label)
    sample.set_metainfo({SUPPORT_KEY: support, EPISODE_KEY: episode})
    return packed


@DATASETS.register_module()
class EpisodicDataset(Dataset):
    """N-way K-shot episodes over a dataset, one episode per item.

    ``dataset[i]`` is the list of the episode's ``N * (K + Q)`` packed
    samples (support first, class by class, then queries), each relabelled
    with its episode label and carrying ``episode_support`` and
    ``episode_idx`` in its metainfo. Any ``i >= 0`` is valid (the training
    sampler draws fresh episodes every epoch); ``len`` is the number of
    episodes per epoch.

    Args:
        dataset (dict | Dataset): The split (config or instance), e.g. an
            mmpretrain ``CustomDataset`` or mmaction2 ``VideoDataset``.
        num_episodes (int): Episodes per epoch.
        num_ways (int): N. Defaults to 5.
        num_shots (int): K. Defaults to 1.
        num_queries (int): Q per class. Defaults to 16 (DeepBDC's meta-train).
        seed (int): Episode stream seed. Defaults to 0.
    """

    def __init__(self,
                 dataset: Union[dict, Dataset],
                 num_episodes: int,
                 num_ways: int = 5,
                 num_shots: int = 1,
                 num_queries: int = 16,
                 seed: int = 0) -> None:
        check_arg(self, 'dataset', dataset, (dict, Dataset))
        check_arg(self, 'num_episodes', num_episodes, int, low=1)
        check_arg(self, 'num_ways', num_ways, int, low=2)
        check_arg(self, 'num_shots', num_shots, int, low=1)
        check_arg(self, 'num_queries', num_queries, int, low=1)
        check_arg(self, 'seed', seed, int, low=0)
        if isinstance(dataset, dict):
            dataset = DATASETS.build(dataset)
        if hasattr(dataset, 'full_init'):  # lazily initialised datasets
            dataset.full_init()
        self.dataset = dataset
        self.num_episodes = num_episodes
        self.num_ways = num_ways
        self.num_shots = num_shots
        self.num_queries = num_queries
        self.seed = seed
        self.class_index = class_index(dataset_labels(dataset))
        check_episode_request(self.class_index, num_ways, num_shots,
                              num_queries, owner=type(self).__name__)

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(getattr(self.dataset, 'metainfo', {}))

    def __len__(self) -> int:
        return self.num_episodes

    def episode(self, idx: int) -> Episode:
        """The indices of episode ``idx``."""
        return sample_episode(self.class_index, self.num_ways,
                              self.num_shots, self.num_queries, self.seed,
                              idx)

    def __getitem__(self, idx: int) -> List[dict]:
        ep = self.episode(idx)
        out = []
        for indices, labels, support in ((ep.support, ep.support_labels,
                                          True), (ep.query, ep.query_labels,
                                                  False)):
            for i, label in zip(indices, labels):
                out.append(
                    _set_episode_fields(self._prepare(int(i)), int(label),
                                        support, int(idx)))
        return out

    def _prepare(self, i: int) -> dict:
        # not ``dataset[i]``: mmengine's __getitem__ replaces a sample whose
        # pipeline fails by a random other one, which would carry another
        # class under this episode label
        prepare = getattr(self.dataset, 'prepare_data', None)
        packed = prepare(i) if prepare is not None else self.dataset[i]
        if packed is None:
            raise RuntimeError(
                f'EpisodicDataset: the pipeline of '
                f'{type(self.dataset).__name__} returned None for sample '
                f'{i}; an episode cannot skip a sample')
        return packed


@DATA_SAMPLERS.register_module()
class EpisodicSampler(Sampler):
    """Episode numbers ``epoch * len(dataset) + i``: fresh, reproducible
    episodes every epoch (``DefaultSampler`` would repeat epoch 0's).

    Indices are split across ranks (rank ``r`` takes every ``world``-th).

    Args:
        dataset (EpisodicDataset): The episodes.
        seed (int, optional): Unused (episodes carry their own seed); kept
            for the runner's sampler interface.
    """

    def __init__(self, dataset: EpisodicDataset,
                 seed: Optional[int] = None) -> None:
        if not isinstance(dataset, EpisodicDataset):
            raise TypeError(
                'EpisodicSampler: train_dataloader.dataset must be an '
                f'EpisodicDataset, got {type(dataset).__name__}')
        self.dataset = dataset
        self.rank, self.world_size = get_dist_info()
        self.epoch = 0

    def __iter__(self) -> Iterator[int]:
        start = self.epoch * len(self.dataset)
        return iter(range(start + self.rank, start + len(self.dataset),
                          self.world_size))

    def __len__(self) -> int:
        return len(range(self.rank, len(self.dataset), self.world_size))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch


@FUNCTIONS.register_module()
def episode_collate(batch: Sequence[List[dict]]) -> dict:
    """Flatten a batch of episodes (lists of packed samples) and
    ``pseudo_collate`` them: ``inputs`` and ``data_samples`` become lists of
    ``B * N * (K + Q)`` entries, episode after episode."""
    flat = [sample for episode in batch for sample in episode]
    return pseudo_collate(flat)

