"""Evaluation of RISA: correlation with held-out iteration labels and
preference agreement, next to PSNR and SSIM; user preference files; and
scoring a folder of (generated, reference) pairs into a CSV."""
import csv
import json
import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
from mmengine.utils import ProgressBar
from torch import Tensor

from mmext.evaluation import QualityCorrelation, preference_agreement
from mmext.utils import require
from .data_generation import load_split
from .images import PURPOSE, image_files, read_image, write_image
from .training import load_model

#: Sub-folders of a folder to score: images are paired by file name.
GENERATED_DIR, REFERENCE_DIR = 'generated', 'reference'


@torch.no_grad()
def risa_scores(model, generated: Tensor, reference: Tensor,
                batch_size: int = 256) -> np.ndarray:
    """RISA scores ``(N, )`` of ``(N, 3, H, W)`` uint8 image pairs."""
    return torch.cat([
        model(g.float() / 255, r.float() / 255)
        for g, r in zip(generated.split(batch_size),
                        reference.split(batch_size))
    ]).numpy()


def psnr_ssim(generated: np.ndarray,
              other: np.ndarray) -> Dict[str, np.ndarray]:
    """PSNR and SSIM (``skimage.metrics``, 8-bit range, colour channels
    last) of each generated image against another image.

    Shapes: ``(N, H, W, 3)`` uint8 each -> ``(N, )`` each.
    """
    metrics = require('skimage.metrics', 'scikit-image', PURPOSE)
    psnr = [metrics.peak_signal_noise_ratio(o, g, data_range=255)
            for g, o in zip(generated, other)]
    ssim = [metrics.structural_similarity(o, g, data_range=255,
                                          channel_axis=-1)
            for g, o in zip(generated, other)]
    # identical images have an infinite PSNR; rank them first
    return dict(psnr=np.nan_to_num(np.asarray(psnr, float), posinf=1e9),
                ssim=np.asarray(ssim, float))


def correlations(scores: Sequence[float], labels: Sequence[float],
                 groups: Sequence[int]) -> Dict[str, float]:
    """``srcc``, ``plcc``, ``krcc`` and ``pair_agreement`` of scores
    against labels (:class:`mmext.evaluation.QualityCorrelation`)."""
    metric = QualityCorrelation()
    metric.process(None, [
        dict(pred_score=s, gt_score=g, group=k)
        for s, g, k in zip(scores, labels, groups)
    ])
    return {k.split('/')[-1]: v for k, v in metric.evaluate(
        len(metric.results)).items()}


def evaluate(cfg: dict, assessor_ckpt: str, data_file: str) -> dict:
    """RISA, PSNR and SSIM on a data file's held-out (test) split.

    PSNR and SSIM compare the generated image with its reference (the
    input RISA gets) and with its source (``_src``; the content the output
    should keep).

    Returns:
        dict: ``{method: {srcc, plcc, krcc, pair_agreement}}`` and
        ``num_images``.
    """
    test = load_split(data_file, 'test')
    model = load_model(cfg['assessor']['model'], assessor_ckpt)
    scores = dict(risa=risa_scores(model, test['generated'],
                                   test['reference']))
    hwc = {k: test[k].permute(0, 2, 3, 1).numpy()
           for k in ('generated', 'reference', 'source')}
    for other, suffix in (('reference', ''), ('source', '_src')):
        for name, value in psnr_ssim(hwc['generated'], hwc[other]).items():
            scores[name + suffix] = value
    labels, groups = test['label'].numpy(), test['group'].numpy()
    results = {
        name: correlations(value, labels, groups)
        for name, value in scores.items()
    }
    results['num_images'] = len(labels)
    return results


def read_pair(gen_path: str, ref_path: str) -> Tuple[np.ndarray,
                                                      np.ndarray]:
    """A (generated, reference) pair of image files as ``(H, W, 3)`` uint8
    arrays; stops naming both files if their sizes differ."""
    gen, ref = read_image(gen_path), read_image(ref_path)
    if gen.shape != ref.shape:
        raise ValueError(
            f'{PURPOSE}: the reference {ref_path!r} is {ref.shape[1]}x'
            f'{ref.shape[0]} but its generated image {gen_path!r} is '
            f'{gen.shape[1]}x{gen.shape[0]}; expected the same size')
    return gen, ref


def pair_score(model, gen: np.ndarray, ref: np.ndarray) -> float:
    """RISA score of one ``(H, W, 3)`` uint8 (generated, reference) pair."""
    gen, ref = (torch.from_numpy(x).permute(2, 0, 1)[None]
                for x in (gen, ref))
    return float(risa_scores(model, gen, ref)[0])


def preference_file_agreement(cfg: dict, assessor_ckpt: str,
                              pref_file: str) -> Dict[str, float]:
    """Agreement of RISA with a user preference file.

    The file is JSON: a list of ``{"reference": ..., "a": ..., "b": ...,
    "preferred": "a" | "b"}`` with image paths relative to the file, each
    entry one person's choice between two images generated with the
    reference.

    Returns:
        dict: ``agreement`` (:func:`mmext.evaluation.preference_agreement`)
        and ``num_preferences``.
    """
    try:
        with open(pref_file) as f:
            entries = json.load(f)
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f'{PURPOSE}: cannot read the preference file '
                         f'{pref_file!r} ({err})') from err
    keys = {'reference', 'a', 'b', 'preferred'}
    if not isinstance(entries, list) or not entries or any(
            not isinstance(e, dict) or set(e) != keys
            or e['preferred'] not in ('a', 'b') for e in entries):
        raise ValueError(
            f'{PURPOSE}: {pref_file!r} must hold a non-empty JSON list of '
            '{"reference": path, "a": path, "b": path, "preferred": "a" or '
            '"b"} (paths relative to the file)')
    root = osp.dirname(osp.abspath(pref_file))
    model = load_model(cfg['assessor']['model'], assessor_ckpt)
    score_a, score_b = [], []
    for e in entries:
        ref = osp.join(root, e['reference'])
        for key, scores in (('a', score_a), ('b', score_b)):
            scores.append(
                pair_score(model, *read_pair(osp.join(root, e[key]), ref)))
    return dict(
        agreement=preference_agreement(
            score_a, score_b, [e['preferred'] == 'a' for e in entries]),
        num_preferences=len(entries))


def score_folder(cfg: dict, assessor_ckpt: str, folder: str,
                 out_csv: str) -> List[dict]:
    """Score every pair of ``folder/generated/<name>`` and
    ``folder/reference/<name>`` and write a CSV with the columns ``name``,
    ``risa``, ``psnr`` and ``ssim`` (the two baselines against the
    reference).

    Stops with one message naming the folder or file when a folder is
    missing or has no images, an image cannot be read, a reference is
    missing or has another size than its generated image.

    Returns:
        list[dict]: The CSV's rows.
    """
    gen_dir = osp.join(folder, GENERATED_DIR)
    ref_dir = osp.join(folder, REFERENCE_DIR)
    names = image_files(gen_dir)
    missing = sorted(set(names) - set(image_files(ref_dir)))
    if missing:
        raise FileNotFoundError(
            f'{PURPOSE}: {len(missing)} generated image(s) of {gen_dir!r} '
            f'have no reference of the same name in {ref_dir!r}: '
            f'{missing[:5]}')
    model = load_model(cfg['assessor']['model'], assessor_ckpt)
    rows = []
    bar = ProgressBar(len(names))
    for name in names:
        gen, ref = read_pair(osp.join(gen_dir, name),
                             osp.join(ref_dir, name))
        base = psnr_ssim(gen[None], ref[None])
        rows.append(dict(name=name,
                         risa=pair_score(model, gen, ref),
                         psnr=float(base['psnr'][0]),
                         ssim=float(base['ssim'][0])))
        bar.update()
    with open(out_csv, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=['name', 'risa', 'psnr', 'ssim'])
        writer.writeheader()
        writer.writerows(rows)
    return rows


def export_folder(data_file: str, folder: str, split: str = 'test') -> int:
    """Write a split's images as a folder to score
    (``folder/generated/`` and ``folder/reference/``, PNG files named
    ``pair<group>_snap<snapshot>.png``); returns the number of pairs."""
    data = load_split(data_file, split)
    for sub in (GENERATED_DIR, REFERENCE_DIR):
        os.makedirs(osp.join(folder, sub), exist_ok=True)
    for gen, ref, group, snap in zip(data['generated'], data['reference'],
                                     data['group'], data['snapshot']):
        name = f'pair{int(group):03d}_snap{int(snap):02d}.png'
        for sub, img in ((GENERATED_DIR, gen), (REFERENCE_DIR, ref)):
            write_image(osp.join(folder, sub, name),
                        img.permute(1, 2, 0).numpy())
    return len(data['label'])


def results_table(results: dict) -> str:
    """The results of :func:`evaluate` as a Markdown table."""
    cols = ['srcc', 'plcc', 'krcc', 'pair_agreement']
    lines = ['| method | ' + ' | '.join(cols) + ' |',
             '|---' * (len(cols) + 1) + '|']
    for name, res in results.items():
        if isinstance(res, dict):
            lines.append(f'| {name} | ' +
                         ' | '.join(f'{res[c]:.3f}' for c in cols) + ' |')
    return '\n'.join(lines)
