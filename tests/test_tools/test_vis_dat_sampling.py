"""tools/analysis_tools/vis_dat_sampling.py: a valid PNG, and the plotted
points equal the sampled positions recomputed here from the raw offsets
captured by a forward hook on the offset network (Eq. (8) and the authors'
reference grid, written out independently)."""
import importlib.util
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch

SCRIPT = osp.join(
    osp.dirname(__file__), '..', '..', 'tools', 'analysis_tools',
    'vis_dat_sampling.py')
spec = importlib.util.spec_from_file_location('vis_dat_sampling', SCRIPT)
vis = importlib.util.module_from_spec(spec)
spec.loader.exec_module(vis)

CONFIG = """
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(mean=[120., 110., 100.], std=[60., 55., 50.]),
    backbone=dict(
        type='DAT',
        arch=dict(
            dims=(16, 32, 64, 128),
            depths=(2, 2, 2, 2),
            heads=(1, 2, 4, 8),
            groups=(-1, -1, 2, 4),
            stage_spec=('LS', 'LS', 'LD', 'LD')),
        img_size=64,
        window_size=4,
        drop_path_rate=0.3),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=3, in_channels=128))
"""


@pytest.fixture
def files(tmp_path):
    cfg = tmp_path / 'dat_small.py'
    cfg.write_text(CONFIG)
    img = tmp_path / 'img.png'
    rng = np.random.default_rng(0)
    mmcv.imwrite(rng.integers(0, 255, (50, 70, 3), dtype=np.uint8),
                 str(img))
    backbone = vis.build_backbone(vis.Config.fromfile(str(cfg)))
    torch.manual_seed(0)
    with torch.no_grad():
        for p in backbone.parameters():
            p.normal_(0, 0.5)
    state = {f'backbone.{k}': v for k, v in backbone.state_dict().items()}
    state['head.fc.weight'] = torch.zeros(3, 128)
    ckpt = tmp_path / 'small.pth'
    torch.save({'state_dict': state}, ckpt)
    return str(cfg), str(img), str(ckpt), backbone


def test_writes_png(files, tmp_path):
    cfg, img, ckpt, _ = files
    out = tmp_path / 'keys.png'
    assert vis.main([cfg, img, '--checkpoint', ckpt, '--stage', '3',
                     '--block', '1', '--group', '3', '--out',
                     str(out)]) == 0
    data = out.read_bytes()
    assert data[:8] == b'\x89PNG\r\n\x1a\n'
    png = mmcv.imfrombytes(data)
    assert png.ndim == 3 and min(png.shape[:2]) > 100
    out2 = tmp_path / 'random.png'  # random initialisation
    assert vis.main([cfg, img, '--out', str(out2)]) == 0
    assert out2.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_plotted_points_match_hooked_offsets(files):
    cfg_path, img, ckpt, saved = files
    cfg = vis.Config.fromfile(cfg_path)
    backbone = vis.build_backbone(cfg, ckpt)
    for k, v in saved.state_dict().items():
        assert torch.equal(backbone.state_dict()[k], v), k
    stage, block, group, size = 2, 1, 1, 64
    offsets = {}
    attn = backbone.stages[stage].blocks[block].attn
    attn.conv_offset.register_forward_hook(
        lambda m, i, o: offsets.setdefault('raw', o.detach()))
    image, x = vis.load_image(cfg, img, size)
    assert image.shape == (64, 64, 3)
    expected_x = (torch.from_numpy(image).permute(2, 0, 1).float() -
                  torch.tensor([120., 110., 100.]).view(3, 1, 1)) / \
        torch.tensor([60., 55., 50.]).view(3, 1, 1)
    torch.testing.assert_close(x[0], expected_x)
    sample = vis.capture(backbone, x, stage, block)
    query = (40.0, 20.0)
    fig = vis.draw(image, sample, 16, group, query)
    (ax, ) = fig.axes
    plotted = {c.get_label(): c.get_offsets() for c in ax.collections
               if c.get_label() in ('reference points', 'sampled keys',
                                    'query')}

    # independent recomputation: map 64 / 16 = 4 cells a side, stride 1
    raw = offsets['raw'][group]  # (2, Hk, Wk), batch 1
    n = 4
    ys = [(i + 0.5) / n * 2 - 1 for i in range(n)]
    exp_ref, exp_pos = [], []
    for i in range(n):
        for j in range(n):
            dy = torch.tanh(raw[0, i, j]).item() * 2 / n
            dx = torch.tanh(raw[1, i, j]).item() * 2 / n
            # align_corners=True: -1 -> centre of cell 0, 1 -> of cell n-1
            px = lambda v: ((v + 1) / 2 * (n - 1) + 0.5) * 16  # noqa: E731
            exp_ref.append((px(ys[j]), px(ys[i])))
            exp_pos.append((px(ys[j] + dx), px(ys[i] + dy)))
    np.testing.assert_allclose(plotted['reference points'], exp_ref,
                               rtol=0, atol=1e-4)
    np.testing.assert_allclose(plotted['sampled keys'], exp_pos, rtol=0,
                               atol=1e-4)
    assert np.abs(np.asarray(exp_pos) - np.asarray(exp_ref)).max() > 1
    # query (40, 20) lies in cell (x 2, y 1): centre (40, 24)
    np.testing.assert_allclose(plotted['query'], [(40.0, 24.0)])
    # colours: the query's attention over the 16 keys, mean of the group's
    # two heads (4 heads, 2 groups)
    weights = sample['attn'][2:4, 1 * n + 2].mean(0).numpy()
    sampled = next(c for c in ax.collections
                   if c.get_label() == 'sampled keys')
    np.testing.assert_allclose(sampled.get_array(), weights, rtol=1e-6)
    assert weights.sum() == pytest.approx(1.0, abs=1e-5)


def test_bad_inputs(files, tmp_path):
    cfg_path, img, _, _ = files
    cfg = vis.Config.fromfile(cfg_path)
    backbone = vis.build_backbone(cfg)
    _, x = vis.load_image(cfg, img, 64)
    with pytest.raises(ValueError, match=r"'L' block, not 'D'.*\(2, 1\)"):
        vis.capture(backbone, x, 2, 0)
    with pytest.raises(FileNotFoundError, match='missing.png'):
        vis.load_image(cfg, str(tmp_path / 'missing.png'), 64)
    wrong = tmp_path / 'wrong.pth'
    torch.save({'state_dict': {'conv1.weight': torch.zeros(1)}}, wrong)
    with pytest.raises(ValueError, match='wrong.pth'):
        vis.build_backbone(cfg, str(wrong))
    cfg.model.backbone.type = 'ResNet'
    with pytest.raises(ValueError, match='DAT backbone'):
        vis.build_backbone(cfg)
