"""projects/RISA: assessing single images of reference-guided synthesis."""
from .assessor import RISAssessor, RISAStyleExtractor, augment_views
from .data_generation import (RISADataset, elbow_index, generate_data,
                              pixel_interpolation, snapshot_iteration)
from .decoders import RISAdaINDecoder, RISModulatedDecoder
from .feature_net import RISAFeatureNet
from .generator import RISContentEncoder, RISGenerator, RISStyleEncoder
from .images import SkimageCrops, SkimagePairs, load_sample_images
from .training import load_model, train_model

__all__ = [
    'RISAssessor', 'RISAStyleExtractor', 'augment_views', 'RISADataset',
    'elbow_index', 'generate_data', 'pixel_interpolation',
    'snapshot_iteration', 'RISAdaINDecoder', 'RISModulatedDecoder',
    'RISAFeatureNet', 'RISContentEncoder', 'RISGenerator', 'RISStyleEncoder',
    'SkimageCrops', 'SkimagePairs', 'load_sample_images', 'load_model',
    'train_model'
]
