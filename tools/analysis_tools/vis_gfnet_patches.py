"""Draw the patches a GFNet looks at, step by step (the authors' users asked
for it in GFNet-Pytorch issues #5 and #6; none was released).

For each image: one panel per step. Step 1 (glance) shows the whole image;
panel ``t`` shows the patches of steps ``2..t`` (the current one in red, the
earlier ones in white, numbered), each titled with the step's predicted
class and confidence (largest softmax probability), so one sees where the
policy looks and when the prediction would exit. Images are preprocessed
as the authors' evaluation: the shorter side resized to ``size / 0.875``,
the centre ``size x size`` crop, then the model's data preprocessor.

Example::

    python tools/analysis_tools/vis_gfnet_patches.py \\
        configs/gfnet/gfnet-stage3_resnet50-p96_8xb32_60e_in1k.py \\
        demo/cat.jpg demo/dog.jpg --checkpoint gfnet_r50_p96.pth \\
        --out work_dirs/gfnet_patches
"""
import argparse
import os
import os.path as osp
import sys
from typing import Optional, Sequence

import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope
from mmengine.runner import load_checkpoint

import mmext  # noqa: F401
from mmext.models.utils import exit_confidence


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a GFNet config')
    parser.add_argument('images', nargs='+', help='image files')
    parser.add_argument('--checkpoint', help='weights (random without)')
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument('--size', type=int, default=224,
                        help='crop size (default: 224)')
    return parser.parse_args(argv)


def build_model(config: str, checkpoint: Optional[str]) -> tuple:
    """The GFNet of ``config`` in eval mode and the class names of the
    checkpoint's ``dataset_meta`` (None without)."""
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model_cfg = cfg.model.to_dict()
    if model_cfg.get('type') not in ('GFNet', 'mmext.GFNet'):
        raise ValueError(f'{config}: model.type must be GFNet, got '
                         f'{model_cfg.get("type")!r}')
    for part in ('global_encoder', 'local_encoder'):
        if isinstance(model_cfg.get(part), dict):
            model_cfg[part]['init_cfg'] = None
    model = MODELS.build(model_cfg)
    classes = None
    if checkpoint is not None:
        ckpt = load_checkpoint(
            model, checkpoint, map_location='cpu', strict=True)
        classes = (ckpt.get('meta') or {}).get('dataset_meta',
                                               {}).get('classes')
    return model.eval(), classes


def load_image(path: str, size: int) -> np.ndarray:
    """RGB uint8 ``(size, size, 3)``: shorter side to ``size / 0.875``,
    centre crop."""
    img = mmcv.imread(path, channel_order='rgb')
    if img is None:
        raise FileNotFoundError(f'cannot read the image {path}')
    img = mmcv.imrescale(img, round(size / 0.875) / min(img.shape[:2]),
                         interpolation='bilinear')
    top = (img.shape[0] - size) // 2
    left = (img.shape[1] - size) // 2
    return img[top:top + size, left:left + size]


def draw(image: np.ndarray, corners: np.ndarray, patch_size: int,
         labels: Sequence[str], confidences: Sequence[float],
         path: str) -> None:
    """Save the step panels of one image.

    Args:
        image: ``(H, W, 3)`` RGB uint8.
        corners: ``(T - 1, 2)`` (row, column) top-left patch corners.
        patch_size: ``P``.
        labels: ``T`` predicted class names.
        confidences: ``T`` confidences.
        path: PNG file.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle
    steps = len(labels)
    fig, axes = plt.subplots(1, steps, figsize=(3 * steps, 3.3))
    axes = np.atleast_1d(axes)
    for t, ax in enumerate(axes):
        ax.imshow(image)
        ax.set_axis_off()
        what = 'glance' if t == 0 else f'focus {t}'
        ax.set_title(f'step {t + 1} ({what})\n{labels[t]} '
                     f'{confidences[t]:.2f}', fontsize=9)
        for s in range(t):
            row, col = corners[s]
            current = s == t - 1
            ax.add_patch(
                Rectangle((col, row), patch_size, patch_size, fill=False,
                          lw=2, ec='red' if current else 'white'))
            ax.text(col + 3, row + 12, str(s + 2), fontsize=8,
                    color='red' if current else 'white')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(args: argparse.Namespace) -> list:
    """Write one PNG per image; returns their paths."""
    model, classes = build_model(args.config, args.checkpoint)
    os.makedirs(args.out, exist_ok=True)
    paths = []
    for image_path in args.images:
        image = load_image(image_path, args.size)
        # as LoadImageFromFile gives it (BGR) through the model's own
        # preprocessor (mean / std, BGR -> RGB)
        bgr = torch.from_numpy(np.ascontiguousarray(image[..., ::-1]))
        x = model.data_preprocessor(
            dict(inputs=[bgr.permute(2, 0, 1)]), False)['inputs']
        logits, corners = model.locate(x)
        conf, pred = exit_confidence(logits[:, 0])
        labels = [
            classes[i] if classes else f'class {i}' for i in pred.tolist()
        ]
        out = osp.join(args.out,
                       osp.splitext(osp.basename(image_path))[0] + '.png')
        draw(image, corners[:, 0].numpy(), model.patch_size, labels,
             conf.tolist(), out)
        paths.append(out)
        print(f'{image_path}: ' + ', '.join(
            f'step {t + 1} {lab} {c:.2f}'
            for t, (lab, c) in enumerate(zip(labels, conf.tolist()))) +
              f' -> {out}')
    return paths


def main(argv: Optional[Sequence[str]] = None) -> int:
    run(parse_args(argv))
    return 0


if __name__ == '__main__':
    sys.exit(main())
