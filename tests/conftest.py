import os

import pytest

# Keep BLAS/OpenMP to the CI machine's 2 cores and never look for a GPU.
os.environ.setdefault('OMP_NUM_THREADS', '2')
os.environ.setdefault('CUDA_VISIBLE_DEVICES', '')

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope='session')
def smoke_data(tmp_path_factory):
    """Small datasets in the real formats, written once per session.

    Layout mirrors ``data/``: ``imagenet/``, ``coco/``, ``kinetics400/``,
    ``digits/``, ``cifar100/``, ``CUB_200_2011/``, ``fgvc_aircraft/``,
    ``stanford_cars/``.
    """
    from mmext.datasets import (make_aircraft_style, make_cifar100_style,
                                make_coco_style, make_cub_style, make_digits,
                                make_imagenet_style, make_kinetics_style,
                                make_stanford_cars_style)
    root = tmp_path_factory.mktemp('smoke_data')
    make_imagenet_style(str(root / 'imagenet'))
    make_coco_style(str(root / 'coco'))
    make_kinetics_style(str(root / 'kinetics400'))
    make_digits(str(root / 'digits'))
    make_cifar100_style(str(root / 'cifar100'))
    make_cub_style(str(root / 'CUB_200_2011'))
    make_aircraft_style(str(root / 'fgvc_aircraft'))
    make_stanford_cars_style(str(root / 'stanford_cars'))
    return str(root)
