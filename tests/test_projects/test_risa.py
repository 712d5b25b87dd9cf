"""projects/RISA end to end on a small budget: two generator families
trained on scikit-image's sample images with snapshots, data generation
with Fréchet-elbow interpolation, the assessor, its correlation with
held-out snapshots' iterations (against scipy.stats) next to PSNR/SSIM,
transfer to the other family, preference files, folder scoring to CSV and
the bad inputs of the folder command."""
import csv
import glob
import json
import os
import os.path as osp
import re
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from scipy import stats

from mmext.utils import MissingDependencyError

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PROJECT = osp.join(REPO, 'projects', 'RISA')
sys.path.insert(0, PROJECT)
import run_risa  # noqa: E402
from risa import (RISAssessor, elbow_index, evaluation,  # noqa: E402
                  load_model, pipeline, pixel_interpolation)
from risa.data_generation import load_split  # noqa: E402
from risa.images import read_image, write_image  # noqa: E402

CONFIGS = osp.join(PROJECT, 'configs')
TINY = (8, 16, 32)


def tiny_config(name: str) -> Config:
    """The project config at test size: small networks, 120 generator
    iterations with 12 snapshots, 150 assessor iterations."""
    cfg = Config.fromfile(osp.join(CONFIGS, name))
    cfg.images.short_side = 64
    gen = cfg.generator
    gen.model.content_encoder.channels = TINY
    gen.model.style_encoder.channels = TINY
    gen.model.style_encoder.style_dim = 16
    gen.model.loss_channels = TINY
    gen.update(max_iters=120, batch_size=8, lr=3e-3, num_snapshots=12)
    cfg.feature_net.model.channels = TINY
    cfg.feature_net.update(max_iters=60, batch_size=16)
    cfg.data.update(num_train_pairs=24, num_test_pairs=12, elbow_window=2,
                    num_interp=1)
    cfg.assessor.model.extractor.channels = TINY
    cfg.assessor.model.update(num_classifiers=4, hidden_dim=32)
    cfg.assessor.update(max_iters=150, batch_size=16, lr=3e-3)
    cfg.log_interval = 1000
    return cfg


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    """Both generator families trained once; RISA trained on the AdaIN
    one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the documented runs; restored below
    root = tmp_path_factory.mktemp('risa')
    cfg = tiny_config('risa_adain_skimage-32px.py')
    adain, modulated = str(root / 'adain'), str(root / 'modulated')
    snapshots = pipeline.train_generator(cfg, adain)
    feature_ckpt = pipeline.train_feature_net(cfg, adain)
    summary = pipeline.generate(cfg, adain)
    assessor = pipeline.train_assessor(cfg, adain)
    cfg_mod = tiny_config('risa_modulated_skimage-32px.py')
    pipeline.train_generator(cfg_mod, modulated)
    pipeline.generate(cfg_mod, modulated, feature_ckpt)
    torch.set_num_threads(threads)
    return dict(root=root, cfg=cfg, adain=adain, modulated=modulated,
                snapshots=snapshots, summary=summary, assessor=assessor)


def test_snapshots_uniform_and_labels(run):
    iters = [pipeline.snapshot_iteration(p) for p in run['snapshots']]
    assert iters == list(range(10, 121, 10))
    assert all(osp.isfile(p) for p in run['snapshots'])
    s = run['summary']
    assert s['heldout_iterations'] == [30, 60, 90, 120]
    test = load_split(osp.join(run['adain'], pipeline.DATA_FILE), 'test')
    train = load_split(osp.join(run['adain'], pipeline.DATA_FILE), 'train')
    assert sorted(set(test['label'].tolist())) == pytest.approx(
        [0.25, 0.5, 0.75, 1.0])
    # held-out snapshots and pairs never reach the assessor's training
    assert not set(train['snapshot'].tolist()) & set(
        test['snapshot'].tolist())
    assert not set(train['group'].tolist()) & set(test['group'].tolist())
    assert len(test['label']) == 4 * 12
    # 8 training snapshots x 24 pairs, then the interpolations between
    # consecutive training snapshots around the elbow
    window = s['interpolated_between']
    assert len(train['label']) == 8 * 24 + (len(window) - 1) * 24
    interp = train['label'][train['snapshot'] == -1]
    assert interp.min() >= window[0] / 120 and interp.max() <= window[
        -1] / 120
    fd = s['frechet_distance']
    assert s['elbow'] == elbow_index(iters, fd)
    assert fd[-1] < fd[0]  # the generator learns


def test_correlation_on_heldout_snapshots(run):
    cfg, data = run['cfg'], osp.join(run['adain'], pipeline.DATA_FILE)
    results = evaluation.evaluate(cfg, run['assessor'], data)
    test = load_split(data, 'test')
    model = load_model(cfg.assessor.model, run['assessor'])
    with torch.no_grad():
        scores = model(test['generated'].float() / 255,
                       test['reference'].float() / 255).numpy()
    labels = test['label'].numpy()
    assert results['risa']['srcc'] == pytest.approx(
        stats.spearmanr(scores, labels)[0])
    assert results['risa']['plcc'] == pytest.approx(
        stats.pearsonr(scores, labels)[0], abs=1e-6)
    # PSNR of one image against its reference, by hand
    g = test['generated'][0].double()
    mse = (g - test['reference'][0].double()).pow(2).mean()
    psnr = 10 * torch.log10(255**2 / mse)
    assert set(results) >= {'psnr', 'ssim', 'psnr_src', 'ssim_src'}
    assert results['num_images'] == 48
    assert float(psnr) == pytest.approx(
        evaluation.psnr_ssim(
            test['generated'][:1].permute(0, 2, 3, 1).numpy(),
            test['reference'][:1].permute(0, 2, 3, 1).numpy())['psnr'][0])
    # the assessor's training ended with the same Spearman, from
    # QualityCorrelation in the runner's validation
    log, = glob.glob(osp.join(run['adain'], 'assessor', '*', '*.log'))
    with open(log) as f:
        logged = re.findall(r'quality/srcc: (-?[\d.]+)', f.read())
    assert float(logged[-1]) == pytest.approx(results['risa']['srcc'],
                                              abs=1e-3)
    # even this small RISA ranks the held-out snapshots' outputs
    assert results['risa']['srcc'] > 0.3
    assert results['risa']['pair_agreement'] > 0.6


def test_transfer_to_the_other_family(run):
    data = osp.join(run['modulated'], pipeline.DATA_FILE)
    results = evaluation.evaluate(run['cfg'], run['assessor'], data)
    assert results['num_images'] == 48
    assert np.isfinite(results['risa']['srcc'])
    assert results['risa']['srcc'] > 0


def test_score_folder_and_cli(run, tmp_path, capsys):
    folder = str(tmp_path / 'pairs')
    data = osp.join(run['adain'], pipeline.DATA_FILE)
    out = str(tmp_path / 'scores.csv')
    assert evaluation.export_folder(data, folder) == 48
    rows = evaluation.score_folder(run['cfg'], run['assessor'], folder, out)
    with open(out) as f:
        written = list(csv.DictReader(f))
    assert [r['name'] for r in written] == [r['name'] for r in rows]
    assert len(rows) == 48
    # PNG is lossless: the scores are those of the data file's tensors
    test = load_split(data, 'test')
    model = load_model(run['cfg'].assessor.model, run['assessor'])
    expected = evaluation.risa_scores(model, test['generated'],
                                      test['reference'])
    order = np.lexsort((test['snapshot'].numpy(), test['group'].numpy()))
    np.testing.assert_allclose([float(r['risa']) for r in written],
                               expected[order], rtol=1e-5)
    # the command line (the tiny assessor's config)
    cfg_file = str(tmp_path / 'tiny.py')
    run['cfg'].dump(cfg_file)
    run_risa.main([
        'score-folder', cfg_file, '--work-dir', run['adain'], '--folder',
        folder, '--out', out
    ])
    assert '48 pairs scored' in capsys.readouterr().out


def test_preference_file(run, tmp_path):
    folder = tmp_path / 'pairs'
    data = osp.join(run['adain'], pipeline.DATA_FILE)
    evaluation.export_folder(data, str(folder))
    entries = [
        dict(reference=f'pairs/reference/pair0{p}_snap11.png',
             a=f'pairs/generated/pair0{p}_snap11.png',
             b=f'pairs/generated/pair0{p}_snap02.png', preferred=pref)
        for p, pref in ((24, 'a'), (25, 'a'), (26, 'b'))
    ]
    pref_file = tmp_path / 'prefs.json'
    pref_file.write_text(json.dumps(entries))
    model = load_model(run['cfg'].assessor.model, run['assessor'])
    hits = 0
    for e in entries:
        ref = read_image(str(tmp_path / e['reference']))
        sa = evaluation.pair_score(model, read_image(str(tmp_path / e['a'])),
                                   ref)
        sb = evaluation.pair_score(model, read_image(str(tmp_path / e['b'])),
                                   ref)
        hits += (sa > sb) == (e['preferred'] == 'a')
    result = evaluation.preference_file_agreement(run['cfg'],
                                                  run['assessor'],
                                                  str(pref_file))
    assert result == dict(agreement=hits / 3, num_preferences=3)
    pref_file.write_text(json.dumps([dict(a='x.png', preferred='c')]))
    with pytest.raises(ValueError, match='must hold a non-empty JSON list'):
        evaluation.preference_file_agreement(run['cfg'], run['assessor'],
                                             str(pref_file))


def _pair_folder(tmp_path, gen_size=(32, 32), ref_size=(32, 32)):
    folder = tmp_path / 'f'
    (folder / 'generated').mkdir(parents=True)
    (folder / 'reference').mkdir()
    write_image(str(folder / 'generated' / 'a.png'),
                np.zeros(gen_size + (3, ), np.uint8))
    write_image(str(folder / 'reference' / 'a.png'),
                np.zeros(ref_size + (3, ), np.uint8))
    return folder


def _refuse(path):
    raise PermissionError(13, 'Permission denied', str(path))


def test_bad_folders(run, tmp_path, monkeypatch):
    cfg, ckpt = run['cfg'], run['assessor']
    out = str(tmp_path / 'x.csv')
    empty = tmp_path / 'empty'
    (empty / 'generated').mkdir(parents=True)
    with pytest.raises(ValueError, match=r"the folder '.*empty/generated' "
                       'has no images'):
        evaluation.score_folder(cfg, ckpt, str(empty), out)
    with pytest.raises(FileNotFoundError, match='no image folder'):
        evaluation.score_folder(cfg, ckpt, str(tmp_path / 'missing'), out)
    # root reads any folder whatever its mode: refuse the listing instead
    with monkeypatch.context() as m:
        m.setattr(os, 'listdir', _refuse)
        with pytest.raises(ValueError, match=r"cannot read the image folder "
                           r"'.*empty/generated' \(\[Errno 13\]"):
            evaluation.score_folder(cfg, ckpt, str(empty), out)

    folder = _pair_folder(tmp_path, ref_size=(40, 32))
    with pytest.raises(ValueError, match=r"the reference '.*reference/a.png' "
                       r"is 32x40 but its generated image '.*generated/a.png'"
                       ' is 32x32; expected the same size'):
        evaluation.score_folder(cfg, ckpt, str(folder), out)

    (folder / 'reference' / 'a.png').write_bytes(b'not an image')
    with pytest.raises(ValueError,
                       match=r"cannot read the image '.*reference/a.png'"):
        evaluation.score_folder(cfg, ckpt, str(folder), out)
    (folder / 'reference' / 'a.png').unlink()
    write_image(str(folder / 'reference' / 'b.png'),
                np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(FileNotFoundError, match=r"have no reference of the "
                       r"same name in '.*reference': \['a.png'\]"):
        evaluation.score_folder(cfg, ckpt, str(folder), out)
    assert not osp.exists(out)


def test_missing_package_is_named(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, 'imageio.v3', None)
    with pytest.raises(MissingDependencyError,
                       match=r"needs the package 'imageio'.*pip install "
                       'imageio'):
        read_image(str(tmp_path / 'a.png'))


def test_pixel_interpolation_and_elbow():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.zeros(3, 3, 64, 64), torch.ones(3, 3, 64, 64)
    out = pixel_interpolation(a, b, torch.tensor([0., 1., .25]), gen)
    assert (out[0] == 1).all() and (out[1] == 0).all()
    # one mask for the three channels; about a quarter of pixels from a
    assert (out[2] == out[2, :1]).all()
    assert float((out[2, 0] == 0).float().mean()) == pytest.approx(.25,
                                                                    abs=.03)
    # y = 1, .3, .2, .1, 0 on x = 0..4: scaled chord 1 - x/4 minus y is
    # 0, .45, .3, .15, 0 -> the elbow is x = 1
    assert elbow_index([0, 1, 2, 3, 4], [1, .3, .2, .1, 0]) == 1
    assert elbow_index([0, 10, 20, 30], [5, 4.9, 4.8, 0]) == 0


def test_assessor_losses_and_arguments():
    torch.manual_seed(0)
    model = RISAssessor(extractor=dict(type='RISAStyleExtractor',
                                       channels=TINY),
                        num_classifiers=3)
    torch.testing.assert_close(model.thresholds, torch.tensor([.25, .5,
                                                               .75]))
    x = torch.rand(4, 3, 16, 16)
    label = torch.tensor([.1, .3, .6, .9])
    losses = model(x, x.flip(0), label, torch.tensor([0, 0, 1, 2]),
                   mode='loss')
    assert set(losses) == {'loss_cls', 'loss_contrastive'}
    # targets 1[label > t]: the BCE of the logits by hand
    logits = model.logits(x, x.flip(0))
    targets = (label[:, None] > torch.tensor([.25, .5, .75])).float()
    p = logits.sigmoid()
    bce = -(targets * p.log() + (1 - targets) * (1 - p).log()).mean()
    assert float(losses['loss_cls']) == pytest.approx(float(bce), rel=1e-5)
    # one distinct reference: no contrastive term
    same = model(x, x, label, torch.zeros(4, dtype=torch.long), mode='loss')
    assert set(same) == {'loss_cls'}
    assert torch.allclose(model(x, x), p.new_tensor(
        model.logits(x, x).sigmoid().mean(1)))
    with pytest.raises(ValueError, match='3 increasing numbers'):
        RISAssessor(num_classifiers=3, thresholds=[.5, .2, .7])
