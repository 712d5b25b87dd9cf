"""Meta-training and meta-test loops for episodic few-shot learning.

:class:`MetaTrainLoop` is mmengine's epoch loop over an
:class:`~mmext.datasets.EpisodicDataset` (episodes per epoch = its
``num_episodes``; fresh episodes each epoch through
:class:`~mmext.datasets.EpisodicSampler`), with the episode setting logged.

:class:`MetaValLoop` / :class:`MetaTestLoop` evaluate a fixed network as
mmfewshot's meta-test does: one pass over the split extracts and caches every
sample's feature, then ``num_episodes`` episodes (x ``num_runs``) are drawn
from the cache (:func:`~mmext.datasets.sample_episode`, seed
``seed + run``) and classified by an episode head
(:class:`~mmext.models.PrototypeHead`,
:class:`~mmext.models.LogisticRegressionHead`). Each episode's accuracy goes
to the evaluator (:class:`~mmext.evaluation.FewShotAccuracy`), so
``tools/test.py`` reports mean accuracy and its 95% interval.
"""
from typing import Dict, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.dist import (broadcast_object_list, collect_results,
                           get_dist_info)
from mmengine.model import is_model_wrapper
from mmengine.runner import EpochBasedTrainLoop, TestLoop, ValLoop
from mmengine.runner.amp import autocast
from mmengine.utils import ProgressBar
from torch.utils.data import DataLoader

from mmext.datasets.episodic import (EpisodicDataset, check_episode_request,
                                     class_index, dataset_labels,
                                     sample_episode)
from mmext.registry import LOOPS, MODELS
from mmext.utils.validation import check_arg

__all__ = ['MetaTrainLoop', 'MetaValLoop', 'MetaTestLoop',
           'extract_episode_features']

CACHE_DTYPES = {'float32': torch.float32, 'float16': torch.float16}


@LOOPS.register_module()
class MetaTrainLoop(EpochBasedTrainLoop):
    """Epoch loop over episodes (``train_dataloader.dataset`` must be an
    :class:`EpisodicDataset`). Arguments as ``EpochBasedTrainLoop``."""

    def __init__(self, runner, dataloader: Union[DataLoader, Dict],
                 *args, **kwargs) -> None:
        super().__init__(runner, dataloader, *args, **kwargs)
        ds = self.dataloader.dataset
        if not isinstance(ds, EpisodicDataset):
            raise TypeError(
                'MetaTrainLoop: train_dataloader.dataset must be an '
                f'EpisodicDataset, got {type(ds).__name__}')
        runner.logger.info(
            f'meta-training: {ds.num_ways}-way {ds.num_shots}-shot, '
            f'{ds.num_queries} queries per class, {ds.num_episodes} episodes '
            f'per epoch, {self._max_epochs} epochs')


def _unwrap(model):
    return model.module if is_model_wrapper(model) else model


def extract_episode_features(model, inputs) -> torch.Tensor:
    """``(B, D)`` features of a preprocessed batch: the model's
    ``extract_episode_feat`` when it has one (video recognizers), else
    ``extract_feat`` (its last output when a tuple)."""
    fn = getattr(model, 'extract_episode_feat', None) or model.extract_feat
    feats = fn(inputs)
    if isinstance(feats, (tuple, list)):
        feats = feats[-1]
    if not isinstance(feats, torch.Tensor) or feats.dim() != 2:
        shape = tuple(feats.shape) if isinstance(feats,
                                                 torch.Tensor) else feats
        raise ValueError(
            f'{type(model).__name__}.extract_feat must give (B, D) features '
            f'for episodes, got {shape}: add a pooling neck (model.neck)')
    return feats


class _MetaEvalMixin:
    """Feature cache + episodes, shared by the val and test loops (listed
    before ``ValLoop`` / ``TestLoop``, whose ``__init__`` this calls)."""
    _mode = 'val'

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 evaluator: Union[Dict, Sequence],
                 num_ways: int = 5,
                 num_shots: int = 1,
                 num_queries: int = 15,
                 num_episodes: int = 2000,
                 num_runs: int = 1,
                 seed: int = 0,
                 classifier: Optional[dict] = None,
                 cache_dtype: str = 'float32',
                 fp16: bool = False) -> None:
        super().__init__(runner, dataloader, evaluator, fp16=fp16)
        self._setup(num_ways, num_shots, num_queries, num_episodes, num_runs,
                    seed, classifier, cache_dtype, fp16)

    def _setup(self, num_ways, num_shots, num_queries, num_episodes,
               num_runs, seed, classifier, cache_dtype, fp16) -> None:
        key = f'{self._mode}_cfg'
        owner = f'{key} ({type(self).__name__})'
        check_arg(owner, 'num_ways', num_ways, int, low=2)
        check_arg(owner, 'num_shots', num_shots, int, low=1)
        check_arg(owner, 'num_queries', num_queries, int, low=1)
        check_arg(owner, 'num_episodes', num_episodes, int, low=1)
        check_arg(owner, 'num_runs', num_runs, int, low=1)
        check_arg(owner, 'seed', seed, int, low=0)
        check_arg(owner, 'classifier', classifier, dict, allow_none=True)
        check_arg(owner, 'cache_dtype', cache_dtype, choices=CACHE_DTYPES)
        self.num_ways, self.num_shots = num_ways, num_shots
        self.num_queries, self.num_episodes = num_queries, num_episodes
        self.num_runs, self.seed = num_runs, seed
        self.cache_dtype = CACHE_DTYPES[cache_dtype]
        self.fp16 = fp16
        # fail before the feature pass when the split cannot hold an episode
        self.labels = dataset_labels(self.dataloader.dataset)
        self.class_index = class_index(self.labels)
        check_episode_request(self.class_index, num_ways, num_shots,
                              num_queries, owner=owner)
        model = _unwrap(self.runner.model)
        if classifier is not None:
            self.classifier = MODELS.build(classifier)
        elif hasattr(getattr(model, 'head', None), 'predict_episode'):
            self.classifier = model.head
        else:
            raise ValueError(
                f'{owner}: classifier is None and model.head '
                f'({type(getattr(model, "head", None)).__name__}) has no '
                "predict_episode; set classifier=dict(type='PrototypeHead') "
                "or dict(type='LogisticRegressionHead')")

    @torch.no_grad()
    def _features(self) -> torch.Tensor:
        """``(S, D)`` features of the whole split, in dataset order."""
        model = _unwrap(self.runner.model)
        results = []
        for idx, data_batch in enumerate(self.dataloader):
            self.runner.call_hook(
                f'before_{self._mode}_iter',
                batch_idx=idx,
                data_batch=data_batch)
            with autocast(enabled=self.fp16):
                data = model.data_preprocessor(data_batch, False)
                feats = extract_episode_features(model, data['inputs'])
            labels = [int(ds.gt_label.reshape(-1)[0])
                      for ds in data['data_samples']]
            results.extend(
                zip(feats.to('cpu', self.cache_dtype).unbind(0), labels))
            self.runner.call_hook(
                f'after_{self._mode}_iter',
                batch_idx=idx,
                data_batch=data_batch,
                outputs=[])
        size = len(self.dataloader.dataset)
        gathered = [collect_results(results, size, device='cpu')]
        broadcast_object_list(gathered)
        feats, labels = zip(*gathered[0])
        if not np.array_equal(labels, self.labels):
            # episodes index the cache by dataset position
            raise ValueError(
                f'{self._mode}_dataloader must read the split once, in '
                "order: use sampler=dict(type='DefaultSampler', "
                'shuffle=False)')
        return torch.stack(feats)

    def _episodes(self, feats: torch.Tensor) -> None:
        device = next(iter(_unwrap(self.runner.model).parameters())).device
        rank, world = get_dist_info()
        total = self.num_episodes * self.num_runs
        bar = ProgressBar(total) if rank == 0 else None
        for run in range(self.num_runs):
            for e in range(self.num_episodes):
                if e % world == rank:
                    ep = sample_episode(self.class_index, self.num_ways,
                                        self.num_shots, self.num_queries,
                                        self.seed + run, e)
                    support = feats[ep.support].to(device, torch.float32)
                    query = feats[ep.query].to(device, torch.float32)
                    scores = self.classifier.predict_episode(
                        support,
                        torch.from_numpy(ep.support_labels).to(device), query)
                    pred = scores.argmax(1).cpu().numpy()
                    acc = float(np.mean(pred == ep.query_labels) * 100)
                    self.evaluator.process(
                        data_samples=[dict(accuracy=acc, run=run)],
                        data_batch=None)
                if bar is not None:
                    bar.update()

    def run(self) -> dict:
        self.runner.call_hook(f'before_{self._mode}')
        self.runner.call_hook(f'before_{self._mode}_epoch')
        self.runner.model.eval()
        feats = self._features()
        self._episodes(feats)
        # the evaluator collects one result per episode and run
        metrics = self.evaluator.evaluate(self.num_episodes * self.num_runs)
        self.runner.call_hook(f'after_{self._mode}_epoch', metrics=metrics)
        self.runner.call_hook(f'after_{self._mode}')
        return metrics


@LOOPS.register_module()
class MetaValLoop(_MetaEvalMixin, ValLoop):
    """Meta-test on cached features during training (``val_cfg``).

    Args:
        runner, dataloader, evaluator: As ``ValLoop``; ``dataloader`` reads
            the plain split (each sample once, test pipeline).
        num_ways (int): N. Defaults to 5.
        num_shots (int): K. Defaults to 1.
        num_queries (int): Q per class. Defaults to 15 (the authors).
        num_episodes (int): E per run. Defaults to 2000 (the authors).
        num_runs (int): R repeated runs, run ``r`` seeded ``seed + r``.
            Defaults to 1.
        seed (int): Episode seed. Defaults to 0.
        classifier (dict, optional): Episode head config; defaults to
            ``model.head`` when it has ``predict_episode``.
        cache_dtype (str): ``'float32'`` or ``'float16'`` (halves the cache:
            205,120-d BDC features of miniImageNet's 12,000 test images are
            9.8 GB in float32).
        fp16 (bool): Extract features under autocast.
    """
    _mode = 'val'


@LOOPS.register_module()
class MetaTestLoop(_MetaEvalMixin, TestLoop):
    """Meta-test on cached features (``test_cfg``); arguments as
    :class:`MetaValLoop`."""
    _mode = 'test'
