from .episodic_classifier import EpisodicClassifier

__all__ = ['EpisodicClassifier']
