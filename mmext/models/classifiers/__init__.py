from .episodic_classifier import EpisodicClassifier
from .gfnet import GFNet

__all__ = ['EpisodicClassifier', 'GFNet']
