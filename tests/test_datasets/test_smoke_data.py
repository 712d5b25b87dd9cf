"""The smoke-data writers produce trees the stock dataset classes load."""
import filecmp
import importlib.util
import json
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.registry import DefaultScope

from mmext.datasets import (make_coco_style, make_digits, make_imagenet_style,
                            make_kinetics_style)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _files(root):
    out = []
    for dirpath, _, names in os.walk(root):
        out += [osp.relpath(osp.join(dirpath, n), root) for n in names]
    return sorted(out)


# ----------------------------------------------------------------- ImageNet
def test_imagenet_style_loads_with_custom_dataset(tmp_path):
    from mmpretrain.datasets import CustomDataset
    root = make_imagenet_style(
        tmp_path / 'imagenet', num_classes=3, train_per_class=2,
        val_per_class=1, size=16)
    assert root == str(tmp_path / 'imagenet')

    # With the meta files, like data/imagenet.
    for split, n in (('train', 6), ('val', 3)):
        ds = CustomDataset(
            data_root=root, data_prefix=split, ann_file=f'meta/{split}.txt',
            classes=osp.join(root, 'meta', 'classes.txt'), pipeline=[])
        assert len(ds) == n
        assert ds.CLASSES == ('class_0', 'class_1', 'class_2')
        assert sorted(ds.get_gt_labels().tolist()) == sorted(
            [0, 1, 2] * (n // 3))
        for i in range(len(ds)):
            info = ds.get_data_info(i)
            assert osp.isfile(info['img_path'])
            # The folder of every file is its class.
            assert osp.basename(osp.dirname(
                info['img_path'])) == ds.CLASSES[info['gt_label']]

    # Without annotation files: classes from the folder names.
    ds = CustomDataset(data_root=root, data_prefix='train', pipeline=[])
    assert len(ds) == 6 and len(ds.CLASSES) == 3

    # The pipeline reads images of the right size.
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        ds = CustomDataset(
            data_root=root, data_prefix='val', ann_file='meta/val.txt',
            pipeline=[dict(type='LoadImageFromFile')])
        assert ds[0]['img'].shape == (16, 16, 3)


def test_imagenet_style_deterministic_and_learnable(tmp_path):
    import cv2
    a = make_imagenet_style(tmp_path / 'a', num_classes=2, train_per_class=3,
                            val_per_class=1, size=16, seed=3)
    b = make_imagenet_style(tmp_path / 'b', num_classes=2, train_per_class=3,
                            val_per_class=1, size=16, seed=3)
    files = _files(a)
    assert files == _files(b)
    _, mismatch, errors = filecmp.cmpfiles(a, b, files, shallow=False)
    assert not mismatch and not errors
    # Class means differ far more than samples within a class do.
    means = {
        c: np.stack([
            cv2.imread(osp.join(a, 'train', c, f)).mean((0, 1))
            for f in sorted(os.listdir(osp.join(a, 'train', c)))
        ])
        for c in ('class_0', 'class_1')
    }
    between = np.linalg.norm(means['class_0'].mean(0) -
                             means['class_1'].mean(0))
    within = max(m.std(0).max() for m in means.values())
    assert between > 5 * within


@pytest.mark.parametrize('kwargs', [
    dict(num_classes=1), dict(train_per_class=0), dict(size=4),
    dict(num_classes=2.5), dict(seed=-1)
])
def test_imagenet_style_rejects_bad_arguments(tmp_path, kwargs):
    with pytest.raises(ValueError):
        make_imagenet_style(tmp_path, **kwargs)


# --------------------------------------------------------------------- COCO
def test_coco_style_loads_with_pycocotools(tmp_path):
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO
    root = make_coco_style(tmp_path / 'coco', num_images=3, size=48,
                           num_classes=3, seed=1)
    n_rect = 0
    for split in ('train2017', 'val2017'):
        coco = COCO(osp.join(root, 'annotations', f'instances_{split}.json'))
        assert sorted(coco.getImgIds()) == [1, 2, 3]
        # COCO's 80 categories with their official ids; ids 1..3 are used.
        cats = coco.loadCats(coco.getCatIds())
        assert len(cats) == 80
        assert [c['name'] for c in coco.loadCats([1, 2, 3])] == [
            'person', 'bicycle', 'car'
        ]
        used = {a['category_id'] for a in coco.loadAnns(coco.getAnnIds())}
        assert used <= {1, 2, 3}
        for img in coco.loadImgs(coco.getImgIds()):
            assert (img['width'], img['height']) == (48, 48)
            assert osp.isfile(osp.join(root, split, img['file_name']))
            anns = coco.loadAnns(coco.getAnnIds(imgIds=img['id']))
            assert 1 <= len(anns) <= 3
            for ann in anns:
                assert ann['iscrowd'] == 0
                x, y, w, h = ann['bbox']
                assert 0 <= x and 0 <= y and x + w <= 48 and y + h <= 48
                mask = coco.annToMask(ann)
                assert mask.shape == (48, 48)
                rle = mask_utils.frPyObjects(ann['segmentation'], 48, 48)
                assert mask_utils.area(mask_utils.merge(rle)) == mask.sum()
                if ann['category_id'] % 2 == 1:  # odd ids are rectangles
                    n_rect += 1
                    # Closed form: corners on pixel edges, w * h pixels,
                    # exactly the box.
                    assert float(w).is_integer() and float(h).is_integer()
                    assert ann['area'] == w * h
                    assert mask.sum() == w * h
                    ys, xs = np.nonzero(mask)
                    assert (xs.min(), ys.min()) == (x, y)
                    assert (xs.max() + 1, ys.max() + 1) == (x + w, y + h)
                else:
                    # An ellipse's polygon area is close to pi * a * b.
                    assert ann['area'] == pytest.approx(
                        np.pi * w * h / 4, rel=0.03)
                    assert mask.sum() == pytest.approx(ann['area'], rel=0.2)
    assert n_rect > 0


def test_coco_style_loads_with_mmdet(tmp_path):
    from mmdet.datasets import CocoDataset
    root = make_coco_style(tmp_path / 'coco', num_images=2, size=32)
    ds = CocoDataset(
        data_root=root,
        ann_file='annotations/instances_val2017.json',
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        pipeline=[])
    assert len(ds) == 2
    info = ds.get_data_info(0)
    assert osp.isfile(info['img_path'])
    assert info['instances'] and all(
        inst['mask'] and inst['bbox_label'] in (0, 1)
        and inst['ignore_flag'] == 0
        for inst in info['instances'])


def test_coco_style_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='num_images'):
        make_coco_style(tmp_path, num_images=0)
    with pytest.raises(ValueError, match='size'):
        make_coco_style(tmp_path, size=8)
    with pytest.raises(ValueError, match='num_classes'):
        make_coco_style(tmp_path, num_classes=12)


# ----------------------------------------------------------------- Kinetics
def test_kinetics_style_loads_and_decodes(tmp_path):
    import decord
    from mmaction.datasets import VideoDataset
    root = make_kinetics_style(
        tmp_path / 'k400', num_classes=2, train_per_class=2, val_per_class=1,
        num_frames=10, size=32)
    for split, n in (('train', 4), ('val', 2)):
        ds = VideoDataset(
            ann_file=osp.join(root, f'kinetics400_{split}_list_videos.txt'),
            data_prefix=dict(video=osp.join(root, f'videos_{split}')),
            pipeline=[])
        assert len(ds) == n
        assert sorted(ds.get_data_info(i)['label']
                      for i in range(n)) == sorted([0, 1] * (n // 2))
    path = ds.get_data_info(0)['filename']
    vr = decord.VideoReader(path)
    assert len(vr) == 10
    assert vr[0].shape == (32, 32, 3)
    with open(osp.join(root, 'label_map.txt')) as f:
        assert f.read().split() == ['class_0', 'class_1']


def test_kinetics_style_mmaction_pipeline(tmp_path):
    """DecordInit / SampleFrames / DecordDecode, as in the TSN configs."""
    from mmaction.datasets import VideoDataset
    root = make_kinetics_style(tmp_path / 'k400', train_per_class=1,
                               val_per_class=1, num_frames=8, size=32)
    with DefaultScope.overwrite_default_scope('mmaction'):
        ds = VideoDataset(
            ann_file=osp.join(root, 'kinetics400_val_list_videos.txt'),
            data_prefix=dict(video=osp.join(root, 'videos_val')),
            pipeline=[
                dict(type='DecordInit'),
                dict(type='SampleFrames', clip_len=1, frame_interval=1,
                     num_clips=3, test_mode=True),
                dict(type='DecordDecode'),
            ],
            test_mode=True)
        out = ds[0]
    assert out['total_frames'] == 8
    assert len(out['imgs']) == 3 and out['imgs'][0].shape == (32, 32, 3)


def test_kinetics_style_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='even'):
        make_kinetics_style(tmp_path, size=33)
    with pytest.raises(ValueError, match='num_frames'):
        make_kinetics_style(tmp_path, num_frames=1)


# ------------------------------------------------------------------- Digits
@pytest.fixture(scope='module')
def digits_root(tmp_path_factory):
    return make_digits(tmp_path_factory.mktemp('digits') / 'd', size=8)


def _split_files(root):
    return {
        split: sorted(
            osp.join(c, f) for c in os.listdir(osp.join(root, split))
            for f in os.listdir(osp.join(root, split, c)))
        for split in ('train', 'val')
    }


def test_digits_split_is_stratified(digits_root):
    from sklearn.datasets import load_digits
    targets = load_digits().target
    files = _split_files(digits_root)
    n_train, n_val = len(files['train']), len(files['val'])
    assert n_train + n_val == 1797
    assert n_val == pytest.approx(0.25 * 1797, abs=10)
    # Disjoint, and every file sits in its true class folder.
    train_ids = {int(osp.basename(f)[:4]) for f in files['train']}
    val_ids = {int(osp.basename(f)[:4]) for f in files['val']}
    assert not train_ids & val_ids and len(train_ids | val_ids) == 1797
    for f in files['train'] + files['val']:
        assert int(osp.dirname(f)) == targets[int(osp.basename(f)[:4])]
    for c in range(10):
        n_c = int((targets == c).sum())
        n_c_val = sum(osp.dirname(f) == str(c) for f in files['val'])
        assert n_c_val == round(0.25 * n_c)


def test_digits_loads_with_custom_dataset(digits_root):
    from mmpretrain.datasets import CustomDataset
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        ds = CustomDataset(
            data_root=digits_root, data_prefix='val',
            pipeline=[dict(type='LoadImageFromFile')])
        img = ds[0]['img']
    assert ds.CLASSES == tuple(str(i) for i in range(10))
    assert img.shape == (8, 8, 3)
    assert (img[..., 0] == img[..., 2]).all()  # grey in all channels
    assert img.max() > 128  # scaled from 0..16


def test_digits_deterministic_and_seeded(digits_root, tmp_path):
    again = make_digits(tmp_path / 'again', size=8)
    files = _split_files(digits_root)
    assert files == _split_files(again)
    for split in ('train', 'val'):
        _, mismatch, errors = filecmp.cmpfiles(
            osp.join(digits_root, split), osp.join(again, split),
            files[split], shallow=False)
        assert not mismatch and not errors
    other = make_digits(tmp_path / 'other', size=8, seed=1)
    assert _split_files(other)['val'] != files['val']


def test_digits_marker_idempotence(tmp_path):
    root = make_digits(tmp_path / 'd', size=8, val_fraction=0.5)
    marker = osp.join(root, '.complete')
    with open(marker) as f:
        assert json.load(f)['val_fraction'] == 0.5
    probe = osp.join(root, 'train', 'probe.txt')
    with open(probe, 'w') as f:
        f.write('left alone when the marker matches')
    assert make_digits(root, size=8, val_fraction=0.5) == root
    assert osp.isfile(probe)

    # Different parameters: rewritten from scratch.
    make_digits(root, size=8, val_fraction=0.2)
    assert not osp.exists(probe)
    assert len(_split_files(root)['val']) == pytest.approx(0.2 * 1797, abs=10)

    # An interrupted write (no marker) is redone.
    os.remove(marker)
    os.remove(osp.join(root, 'val', '0', sorted(
        os.listdir(osp.join(root, 'val', '0')))[0]))
    make_digits(root, size=8, val_fraction=0.2)
    files = _split_files(root)
    assert len(files['train']) + len(files['val']) == 1797
    assert osp.isfile(marker)


@pytest.mark.parametrize('kwargs', [
    dict(val_fraction=0), dict(val_fraction=1.0), dict(val_fraction='0.3'),
    dict(size=4), dict(seed=-2)
])
def test_digits_rejects_bad_arguments(tmp_path, kwargs):
    with pytest.raises(ValueError):
        make_digits(tmp_path, **kwargs)


# ---------------------------------------------------------------------- CLI
def test_make_smoke_data_cli(tmp_path, capsys):
    path = osp.join(REPO, 'tools', 'misc', 'make_smoke_data.py')
    spec = importlib.util.spec_from_file_location('make_smoke_data', path)
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    written = cli.main(['coco', '--out', str(tmp_path)])
    assert written == dict(coco=str(tmp_path / 'coco'))
    assert str(tmp_path / 'coco') in capsys.readouterr().out
    assert osp.isfile(
        osp.join(tmp_path, 'coco', 'annotations', 'instances_val2017.json'))
    assert not osp.exists(osp.join(tmp_path, 'imagenet'))
    with pytest.raises(SystemExit):
        cli.main(['mnist', '--out', str(tmp_path)])
