"""MultiOffsetSampleFrames against the TCP authors' ten_clips_sample
indices (ops/dataset.py, written out) and in an mmaction2 pipeline."""
import numpy as np
import pytest
from mmengine.registry import DefaultScope

import mmext  # noqa: F401
from mmext.datasets.transforms.tcp_sample_frames import \
    MultiOffsetSampleFrames


def authors_ten_clips(num_frames, num_segments):
    tick = (num_frames - 1 + 1) / float(num_segments)
    offsets = []
    for k in list(range(1, 10)) + [0]:
        offsets += [int(tick / 10.0 * k + tick * x) if k else int(tick * x)
                    for x in range(num_segments)]
    return np.array(offsets)


@pytest.mark.parametrize('num_frames,num_segments', [(300, 8), (250, 16),
                                                     (37, 8), (5, 8)])
def test_indices_equal_authors(num_frames, num_segments):
    out = MultiOffsetSampleFrames(num_segments)(
        dict(total_frames=num_frames, start_index=1))
    np.testing.assert_array_equal(out['frame_inds'] - 1,
                                  authors_ten_clips(num_frames, num_segments))
    assert out['num_clips'] == 10 * num_segments and out['clip_len'] == 1


def test_in_video_pipeline(tmp_path):
    from mmaction.datasets import VideoDataset
    from mmext.datasets import make_kinetics_style
    root = make_kinetics_style(tmp_path / 'k', train_per_class=1)
    with DefaultScope.overwrite_default_scope('mmaction'):
        ds = VideoDataset(
            ann_file=f'{root}/kinetics400_val_list_videos.txt',
            data_prefix=dict(video=f'{root}/videos_val'),
            pipeline=[
                dict(type='DecordInit'),
                dict(type='MultiOffsetSampleFrames', num_clips=4,
                     num_offsets=3),
                dict(type='DecordDecode'),
                dict(type='ThreeCrop', crop_size=32),
                dict(type='FormatShape', input_format='NCHW'),
                dict(type='PackActionInputs')
            ],
            test_mode=True)
        sample = ds[0]
    assert tuple(sample['inputs'].shape) == (3 * 3 * 4, 3, 32, 32)
    with pytest.raises(ValueError, match="num_offsets='10'"):
        MultiOffsetSampleFrames(num_offsets='10')
