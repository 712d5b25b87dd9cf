import pytest
from mmengine.registry import DefaultScope


@pytest.fixture(autouse=True)
def mmpretrain_scope():
    """Model tests build classifiers by plain type name (``ImageClassifier``,
    ``CrossEntropyLoss``) as configs with ``default_scope='mmpretrain'`` do;
    make that scope current regardless of what earlier tests left behind."""
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        yield
