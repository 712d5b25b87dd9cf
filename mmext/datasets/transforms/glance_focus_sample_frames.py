"""Two TSN samplings of one video: AdaFocusV2's glance and focus frames
(the authors' ``ops/dataset.py`` of the Sth-Sth / Jester experiments
samples ``num_segments_glancer`` and ``num_segments_focuser`` segments
independently)."""
from typing import Dict

import numpy as np
from mmaction.datasets.transforms import SampleFrames
from mmcv.transforms import BaseTransform

from mmext.registry import TRANSFORMS
from mmext.utils.validation import check_arg


@TRANSFORMS.register_module()
class GlanceFocusSampleFrames(BaseTransform):
    """TSN segment sampling twice: ``glance_clips`` then ``focus_clips``
    frames, consecutive in ``frame_inds`` (the input layout of
    :class:`~mmext.models.recognizers.AdaFocusV2TSM`).

    Each sampling is mmaction2's ``SampleFrames`` with ``clip_len=1``
    (training: a random frame per segment; ``test_mode``: the segments'
    centres).

    Required keys: ``total_frames``, ``start_index``. Added keys:
    ``frame_inds``, ``clip_len`` (1), ``frame_interval`` (None),
    ``num_clips`` (``glance_clips + focus_clips``).

    Args:
        glance_clips (int): Glance frames. Defaults to 8.
        focus_clips (int): Focus frames. Defaults to 12.
        test_mode (bool): Segment centres instead of random frames.
    """

    def __init__(self,
                 glance_clips: int = 8,
                 focus_clips: int = 12,
                 test_mode: bool = False) -> None:
        check_arg(self, 'glance_clips', glance_clips, int, low=1)
        check_arg(self, 'focus_clips', focus_clips, int, low=1)
        check_arg(self, 'test_mode', test_mode, bool)
        self.samplers = [
            SampleFrames(clip_len=1, num_clips=n, test_mode=test_mode)
            for n in (glance_clips, focus_clips)
        ]

    def transform(self, results: Dict) -> Dict:
        inds = [s.transform(dict(results))['frame_inds']
                for s in self.samplers]
        results['frame_inds'] = np.concatenate(inds)
        results['clip_len'] = 1
        results['frame_interval'] = None
        results['num_clips'] = len(results['frame_inds'])
        return results

    def __repr__(self) -> str:
        g, f = (s.num_clips for s in self.samplers)
        return (f'{type(self).__name__}(glance_clips={g}, focus_clips={f}, '
                f'test_mode={self.samplers[0].test_mode})')
