"""TSN segment sampling at several offsets per segment: the multi-clip test
views of TCP (the authors' ``ten_clips_sample``, ``ops/dataset.py``)."""
from typing import Dict

import numpy as np
from mmcv.transforms import BaseTransform

from mmext.registry import TRANSFORMS
from mmext.utils.validation import check_arg


@TRANSFORMS.register_module()
class MultiOffsetSampleFrames(BaseTransform):
    """Sample ``num_offsets`` TSN views of ``num_clips`` frames each.

    The video's ``N`` frames are cut into ``num_clips`` segments of
    ``tick = N / num_clips`` frames; view ``k`` takes frame ``int(tick (x +
    o_k))`` of segment ``x``, with the offsets ``o_k = k / num_offsets`` for
    ``k = 1 .. num_offsets - 1`` and then ``0`` (the TCP authors' order for
    ten clips). The views are consecutive in ``frame_inds``, as a head
    that pools ``num_clips`` frames per view expects (``TCPHead`` with
    ``num_segments = num_clips``); with ``ThreeCrop`` after it, 10 offsets
    give the authors' 30 test views. mmaction2's ``SampleFrames`` has one
    offset (the segments' centres) or two (``twice_sample``).

    Required keys: ``total_frames``, ``start_index``. Added keys:
    ``frame_inds`` (``num_offsets * num_clips`` indices), ``clip_len`` (1),
    ``frame_interval`` (None), ``num_clips`` (``num_offsets * num_clips``).

    Args:
        num_clips (int): Frames per view (segments). Defaults to 8.
        num_offsets (int): Views. Defaults to 10.
    """

    def __init__(self, num_clips: int = 8, num_offsets: int = 10) -> None:
        check_arg(self, 'num_clips', num_clips, int, low=1)
        check_arg(self, 'num_offsets', num_offsets, int, low=1)
        self.num_clips = num_clips
        self.num_offsets = num_offsets

    def transform(self, results: Dict) -> Dict:
        total = results['total_frames']
        if total < 1:
            raise ValueError(f'{type(self).__name__}: the video has '
                             f'total_frames={total}')
        tick = total / self.num_clips
        # as the authors write it, tick / 10 * k + tick * x (the same
        # rounding)
        steps = np.append(np.arange(1, self.num_offsets), 0)
        segments = np.arange(self.num_clips)
        inds = (tick / self.num_offsets * steps[:, None] +
                tick * segments[None, :]).astype(np.int64).reshape(-1)
        results['frame_inds'] = np.minimum(inds, total - 1) + \
            results['start_index']
        results['clip_len'] = 1
        results['frame_interval'] = None
        results['num_clips'] = self.num_offsets * self.num_clips
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_clips={self.num_clips}, '
                f'num_offsets={self.num_offsets})')
