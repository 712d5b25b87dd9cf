"""Writers of small datasets in the real OpenMMLab formats (smoke runs,
tests and the embedded demo), and the dataset classes that read them."""
from .cifar_smoke import SmokeCIFAR100, make_cifar100_style
from .episodic import (EpisodicDataset, EpisodicSampler, episode_collate,
                       sample_episode)
from .few_shot_video_smoke import make_few_shot_video_style
from .few_shot_splits import (CUBFewShot, FewShotImageDataset,
                              FewShotVideoDataset, MiniImageNet,
                              TieredImageNet)
from .cub_smoke import (make_aircraft_style, make_cub_style,
                        make_stanford_cars_style)
from .smoke_data import (make_coco_style, make_digits, make_imagenet_style,
                         make_kinetics_style)
from .transforms import OrientationResize
from .uda_dataset import UDADataset, UDASampler
from .voc_smoke import make_voc_style

__all__ = [
    'EpisodicDataset', 'EpisodicSampler', 'episode_collate', 'sample_episode',
    'FewShotImageDataset', 'MiniImageNet', 'TieredImageNet', 'CUBFewShot',
    'FewShotVideoDataset', 'make_few_shot_video_style',
    'make_imagenet_style', 'make_coco_style', 'make_kinetics_style',
    'make_digits', 'make_cifar100_style', 'SmokeCIFAR100', 'make_cub_style',
    'make_aircraft_style', 'make_stanford_cars_style', 'make_voc_style',
    'OrientationResize', 'UDADataset', 'UDASampler'
]
