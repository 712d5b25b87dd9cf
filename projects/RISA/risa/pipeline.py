"""The steps of the RISA experiment on one work directory::

    {work_dir}/generator/snapshots/snapshot_iter_<n>.pth   train_generator
    {work_dir}/feature_net/snapshots/snapshot_iter_<n>.pth train_feature_net
    {work_dir}/risa_data.pt                                generate
    {work_dir}/assessor/snapshots/snapshot_iter_<n>.pth    train_assessor
"""
import glob
import os.path as osp
from typing import List, Optional

from mmext.utils.snapshots import SNAPSHOT_GLOB
from .data_generation import generate_data, snapshot_iteration
from .feature_net import feature_net_model
from .training import train_model

DATA_FILE = 'risa_data.pt'


def snapshots_of(work_dir: str, stage: str) -> List[str]:
    """The snapshots a stage saved in ``work_dir``, in training order;
    stops naming the folder if there are none."""
    folder = osp.join(work_dir, stage, 'snapshots')
    paths = sorted(glob.glob(osp.join(folder, SNAPSHOT_GLOB)),
                   key=snapshot_iteration)
    if not paths:
        raise FileNotFoundError(
            f'projects/RISA: no snapshots in {folder!r} (expected '
            f'snapshot_iter_<n>.pth; run the {stage} training first)')
    return paths


def _train(cfg: dict, section: str, model: dict, dataset: dict,
           work_dir: str, **kwargs) -> List[str]:
    c = cfg[section]
    return train_model(model, dataset, osp.join(work_dir, section),
                       c['max_iters'], c['batch_size'], c['lr'],
                       seed=c['seed'], log_interval=cfg['log_interval'],
                       **kwargs)


def train_generator(cfg: dict, work_dir: str) -> List[str]:
    """Train the RIS generator on random (content, style) crops and save
    ``generator.num_snapshots`` snapshots uniformly over its training."""
    dataset = dict(type='SkimagePairs', **cfg['images'],
                   seed=cfg['generator']['seed'])
    return _train(cfg, 'generator', cfg['generator']['model'], dataset,
                  work_dir, num_snapshots=cfg['generator']['num_snapshots'])


def train_feature_net(cfg: dict, work_dir: str) -> str:
    """Train the feature network of the Fréchet distance."""
    images = cfg['images']
    dataset = dict(type='SkimageCrops',
                   names=list(images['content']) + list(images['style']),
                   crop_size=images['crop_size'],
                   short_side=images['short_side'],
                   seed=cfg['feature_net']['seed'])
    return _train(cfg, 'feature_net', feature_net_model(cfg), dataset,
                  work_dir)[-1]


def generate(cfg: dict, work_dir: str,
             feature_ckpt: Optional[str] = None) -> dict:
    """Generate the assessor's data from the generator's snapshots, with
    the work directory's feature network unless ``feature_ckpt`` names
    another one (e.g. the first generator's, for a second family)."""
    if feature_ckpt is None:
        feature_ckpt = snapshots_of(work_dir, 'feature_net')[-1]
    return generate_data(cfg, snapshots_of(work_dir, 'generator'),
                         feature_ckpt, osp.join(work_dir, DATA_FILE))


def train_assessor(cfg: dict, work_dir: str) -> str:
    """Train RISA on the generated training split; the log ends with its
    :class:`mmext.evaluation.QualityCorrelation` on the held-out split."""
    data_file = osp.join(work_dir, DATA_FILE)
    return _train(cfg, 'assessor', cfg['assessor']['model'],
                  dict(type='RISADataset', data_file=data_file,
                       split='train'), work_dir,
                  val_dataset=dict(type='RISADataset', data_file=data_file,
                                   split='test'),
                  val_metric=dict(type='QualityCorrelation'))[-1]
