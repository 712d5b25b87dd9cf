"""Unsupervised domain adaptation data: a labelled source and an unlabelled
target dataset drawn together.

:class:`UDADataset` wraps any two mmpretrain datasets (or, for evaluation,
the target alone); :class:`UDASampler` draws its (source, target) index
pairs as Dassl's ``TrainerXU`` draws its two loaders: each dataset shuffled
on its own every epoch, the shorter one restarted (reshuffled) when it runs
out, an epoch as long as the source (``length='source'``, Dassl's
``COUNT_ITER=train_x``). A batch of ``B`` pairs is ``B`` source + ``B``
target images (:class:`mmext.models.UDADataPreprocessor` stacks them, the
source first).
"""
import copy
import math
from typing import Iterator, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.dataset import BaseDataset, force_full_init
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from mmext.registry import DATA_SAMPLERS, DATASETS
from mmext.utils.validation import ArgumentError, check_arg

#: metainfo keys set on every sample (read by DAPL)
DOMAIN_ID_KEY = 'domain_id'
DOMAIN_NAMES_KEY = 'domain_names'
#: label of a target sample in training: the target is unlabelled
UNLABELLED = -1


def _build(cfg: Union[dict, BaseDataset], key: str) -> BaseDataset:
    if isinstance(cfg, dict):
        return DATASETS.build(cfg)
    if isinstance(cfg, BaseDataset) or hasattr(cfg, '__getitem__'):
        return cfg
    raise ArgumentError(f'UDADataset: {key}={cfg!r} ({type(cfg).__name__}) '
                        'is invalid; expected a dataset or its config dict')


def _classes(dataset) -> Optional[tuple]:
    classes = getattr(dataset, 'metainfo', {}).get('classes')
    return None if classes is None else tuple(classes)


@DATASETS.register_module()
class UDADataset:
    """A labelled source and an unlabelled target dataset as one dataset of
    (source, target) pairs.

    Each sample's ``DataSample`` gets ``metainfo['domain_id']`` (0 source,
    1 target) and ``metainfo['domain_names']`` (``domains``). In training
    (``source`` given) a target sample's ``gt_label`` is replaced by -1:
    the target's labels are never seen. Without ``source`` the wrapper
    serves the target alone, labels kept, for evaluation (index with
    ints, ``DefaultSampler``).

    Args:
        target (dict | Dataset): The target domain's dataset.
        source (dict | Dataset, optional): The source domain's labelled
            dataset. Defaults to None (evaluation).
        domains (Sequence[str]): ``(source, target)`` domain names (the
            words DAPL puts in its prompts, e.g. ``('art', 'clipart')``).
        lazy_init (bool): As mmengine's wrappers. Defaults to False.

    Indexing: ``dataset[(i, j)]`` is ``dict(inputs=[source i, target j],
    data_samples=[...])`` (pairs come from :class:`UDASampler`);
    ``len(dataset)`` is the source's length, or the target's without a
    source.
    """

    def __init__(self,
                 target: Union[dict, BaseDataset],
                 source: Union[dict, BaseDataset, None] = None,
                 domains: Sequence[str] = ('source', 'target'),
                 lazy_init: bool = False) -> None:
        check_arg(self, 'domains', domains, (list, tuple))
        if len(domains) != 2 or not all(
                isinstance(d, str) and d.strip() for d in domains):
            raise ArgumentError(
                f'UDADataset: domains={domains!r} is invalid; expected '
                '(source, target): two non-empty domain names')
        check_arg(self, 'lazy_init', lazy_init, bool)
        self.domains = tuple(domains)
        self.target = _build(target, 'target')
        self.source = None if source is None else _build(source, 'source')
        if self.source is not None:
            src, tgt = _classes(self.source), _classes(self.target)
            if src is not None and tgt is not None and src != tgt:
                first = next((i for i, (a, b) in enumerate(zip(src, tgt))
                              if a != b), min(len(src), len(tgt)))
                raise ArgumentError(
                    'UDADataset: the classes of target differ from those of '
                    f'source ({len(tgt)} vs {len(src)} classes; first '
                    f'difference at label {first}: '
                    f'{tgt[first] if first < len(tgt) else None!r} vs '
                    f'{src[first] if first < len(src) else None!r}); both '
                    'domains must list the same classes in the same order')
        self._metainfo = copy.deepcopy(
            getattr(self.source or self.target, 'metainfo', {}))
        self._metainfo['domains'] = self.domains
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self._metainfo)

    @property
    def training(self) -> bool:
        """Whether the wrapper yields (source, target) pairs."""
        return self.source is not None

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        for ds in (self.source, self.target):
            if ds is not None and hasattr(ds, 'full_init'):
                ds.full_init()
        self._fully_initialized = True

    @force_full_init
    def __len__(self) -> int:
        return len(self.source if self.training else self.target)

    @property
    def source_length(self) -> int:
        return len(self.source) if self.training else 0

    @property
    def target_length(self) -> int:
        return len(self.target)

    def _mark(self, sample: dict, domain_id: int) -> dict:
        data_sample = sample['data_samples']
        data_sample.set_metainfo({
            DOMAIN_ID_KEY: domain_id,
            DOMAIN_NAMES_KEY: self.domains
        })
        if domain_id == 1 and self.training:
            data_sample.set_gt_label(UNLABELLED)
        return sample

    @force_full_init
    def __getitem__(self, idx: Union[int, Tuple[int, int]]) -> dict:
        if not self.training:
            return self._mark(self.target[idx], 1)
        if not (isinstance(idx, (tuple, list)) and len(idx) == 2):
            raise TypeError(
                f'UDADataset got the index {idx!r}; in training it takes '
                '(source, target) index pairs: set the train dataloader\'s '
                "sampler to dict(type='UDASampler')")
        src = self._mark(self.source[int(idx[0])], 0)
        tgt = self._mark(self.target[int(idx[1])], 1)
        return dict(
            inputs=[src['inputs'], tgt['inputs']],
            data_samples=[src['data_samples'], tgt['data_samples']])

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(domains={self.domains}, source='
                f'{self.source_length}, target={self.target_length})')


@DATA_SAMPLERS.register_module()
class UDASampler(Sampler):
    """(source, target) index pairs for :class:`UDADataset`.

    Every epoch both datasets are shuffled independently (seeded by
    ``seed + epoch``); the epoch has ``length`` pairs: the source's length
    (``'source'``, the authors' setting), the target's (``'target'``) or the
    shorter (``'min'``); the dataset that runs out first restarts with a new
    shuffle. In distributed training the pairs are split across ranks as
    ``DefaultSampler`` splits indices (padded to a multiple of the world
    size).

    Args:
        dataset (UDADataset): The wrapper in training mode.
        length (str): ``'source'``, ``'target'`` or ``'min'``. Defaults to
            ``'source'``.
        seed (int, optional): Random seed; None draws one (synchronised
            across ranks).
    """

    def __init__(self,
                 dataset: UDADataset,
                 length: str = 'source',
                 seed: Optional[int] = None) -> None:
        if not isinstance(dataset, UDADataset) or not dataset.training:
            raise ArgumentError(
                f'UDASampler: dataset={type(dataset).__name__} is invalid; '
                'expected a UDADataset with a source and a target')
        check_arg(self, 'length', length, choices=('source', 'target', 'min'))
        check_arg(self, 'seed', seed, int, allow_none=True)
        self.dataset = dataset
        self.length = length
        self.seed = sync_random_seed() if seed is None else seed
        self.rank, self.world_size = get_dist_info()
        n_s, n_t = dataset.source_length, dataset.target_length
        self.num_pairs = dict(source=n_s, target=n_t, min=min(n_s, n_t))[
            length]
        self.num_samples = math.ceil(self.num_pairs / self.world_size)
        self.total_size = self.num_samples * self.world_size
        self.epoch = 0

    @staticmethod
    def _cycled(n: int, count: int, g: torch.Generator) -> List[int]:
        """``count`` indices of ``0..n-1``: shuffles of all ``n`` in a row
        (a new shuffle whenever one runs out)."""
        out: List[int] = []
        while len(out) < count:
            out += torch.randperm(n, generator=g).tolist()
        return out[:count]

    def pairs(self) -> List[Tuple[int, int]]:
        """This epoch's pairs on every rank (before the rank's share)."""
        g = torch.Generator()
        g.manual_seed(self.seed + self.epoch)
        src = self._cycled(self.dataset.source_length, self.num_pairs, g)
        tgt = self._cycled(self.dataset.target_length, self.num_pairs, g)
        pairs = list(zip(src, tgt))
        pairs = (pairs * math.ceil(self.total_size / len(pairs)))[:self.
                                                                   total_size]
        return pairs

    def __iter__(self) -> Iterator[Tuple[int, int]]:
        return iter(self.pairs()[self.rank:self.total_size:self.world_size])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
