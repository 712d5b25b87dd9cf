"""mmengine's ``BaseMetric`` with its arguments checked."""
from typing import Optional

from mmengine.evaluator import BaseMetric

from mmext.utils.validation import check_arg

__all__ = ['CheckedMetric']


class CheckedMetric(BaseMetric):
    """The base of mmext's metrics: a ``collect_device`` other than
    ``'cpu'`` or ``'gpu'`` stops with a ``ValueError`` naming the metric and
    the argument (mmengine's own message comes only when results are
    collected across processes).

    Args:
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        prefix (str, optional): Metric name prefix; the subclass's
            ``default_prefix`` when None.
    """

    def __init__(self,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        check_arg(self, 'collect_device', collect_device,
                  choices=('cpu', 'gpu'))
        super().__init__(collect_device=collect_device, prefix=prefix)
