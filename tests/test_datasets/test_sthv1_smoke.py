"""make_sthv1_style writes what mmaction2's RawframeDataset reads (the
layout of data/sthv1)."""
import pytest
from mmaction.datasets import RawframeDataset
from mmengine.registry import DefaultScope

from mmext.datasets.sthv1_smoke import make_sthv1_style


def test_rawframes_load_with_mmaction2(tmp_path):
    root = make_sthv1_style(tmp_path / 'sthv1', num_classes=3,
                            num_frames=6, size=16)
    with DefaultScope.overwrite_default_scope('mmaction'):
        ds = RawframeDataset(
            ann_file=f'{root}/sthv1_train_list_rawframes.txt',
            data_prefix=dict(img=f'{root}/rawframes'),
            filename_tmpl='{:05}.jpg',
            pipeline=[
                dict(type='SampleFrames', clip_len=1, num_clips=4,
                     test_mode=True),
                dict(type='RawFrameDecode'),
                dict(type='FormatShape', input_format='NCHW'),
                dict(type='PackActionInputs')
            ])
        assert len(ds) == 6
        assert [ds.get_data_info(i)['label'] for i in range(6)] == \
            [0, 0, 1, 1, 2, 2]
        sample = ds[5]
    assert tuple(sample['inputs'].shape) == (4, 3, 16, 16)
    with open(f'{root}/sthv1_val_list_rawframes.txt') as f:
        assert f.read().split('\n')[0] == '7 6 0'
    with pytest.raises(ValueError, match='num_frames'):
        make_sthv1_style(tmp_path / 'x', num_frames=1)
