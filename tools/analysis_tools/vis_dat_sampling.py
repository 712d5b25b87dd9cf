"""Draw the keys sampled by one deformable attention block of a DAT backbone
over the input image (the DAT paper's visualisations, Fig. 1(d) / Fig. 5).

The backbone is built from ``model.backbone`` of a config (an mmpretrain
classifier or an mmdet detector with ``type='DAT'``) with random weights or
a checkpoint's ``backbone.*`` weights. Forward hooks on the chosen block's
:class:`~mmext.models.backbones.dat.DeformableAttention` capture its sampled
positions (reference grid + offsets, one set per offset group) and, on its
attention dropout, the softmax attention of every query. The figure shows the
reference points (grey), the sampled keys of one group (dots sized and
coloured by the chosen query's attention, averaged over the group's heads),
arrows from reference to sampled point, and the query (red star).

Example::

    python tools/analysis_tools/vis_dat_sampling.py \\
        configs/dat/dat_tiny_8xb128_300e_in1k.py demo.jpg \\
        --checkpoint checkpoints/dat_tiny_8xb128_300e_in1k.pth \\
        --stage 2 --block 5 --group 1 --query 120 90 --out dat_keys.png
"""
import argparse
import copy
import sys
from typing import Dict, Optional, Sequence, Tuple

import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner.checkpoint import _load_checkpoint
from torch import Tensor

from mmext.models.backbones import DAT
from mmext.registry import MODELS

#: ImageNet RGB statistics, used when the config has no data_preprocessor
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


def build_backbone(cfg: Config, checkpoint: Optional[str] = None) -> DAT:
    """The config's DAT backbone in eval mode, without stochastic depth,
    with the ``backbone.*`` weights of ``checkpoint`` (a bare backbone
    state dict works too); random weights without one.

    Raises:
        ValueError: the config has no DAT backbone, or the checkpoint holds
            no weight of it.
    """
    backbone_cfg = copy.deepcopy(cfg.get('model', {}).get('backbone'))
    if not backbone_cfg or backbone_cfg.get('type') not in ('DAT',
                                                            'mmext.DAT'):
        raise ValueError('model.backbone of the config must be a DAT '
                         f'backbone, got {backbone_cfg!r}')
    backbone_cfg.pop('init_cfg', None)
    backbone_cfg['drop_path_rate'] = 0.
    backbone = MODELS.build(backbone_cfg)
    if checkpoint is not None:
        state = _load_checkpoint(checkpoint, map_location='cpu')
        state = state.get('state_dict', state)
        if any(k.startswith('backbone.') for k in state):
            state = {
                k[len('backbone.'):]: v
                for k, v in state.items() if k.startswith('backbone.')
            }
        own = backbone.state_dict()
        if not own.keys() & state.keys():
            raise ValueError(f'{checkpoint}: no weight of the DAT backbone '
                             '(expected backbone.* keys or a bare backbone '
                             'state dict)')
        # output norms the checkpoint's model lacks (e.g. a classifier's
        # weights in a detector's backbone) do not move the sampling
        backbone.load_state_dict(state, strict=False)
    return backbone.eval()


def load_image(cfg: Config, path: str, size: int) -> Tuple[np.ndarray,
                                                           Tensor]:
    """The image resized to ``size x size``: RGB uint8 (size, size, 3) and
    the normalised (1, 3, size, size) input (the config's
    ``data_preprocessor`` mean/std, ImageNet's without one).

    Raises:
        FileNotFoundError: ``path`` is missing or not an image.
    """
    img = mmcv.imread(path, channel_order='rgb')
    if img is None:
        raise FileNotFoundError(f'{path}: not found or not an image')
    img = mmcv.imresize(img, (size, size), interpolation='bicubic')
    pre = cfg.get('model', {}).get('data_preprocessor') or {}
    mean = torch.tensor(pre.get('mean', IMAGENET_MEAN)).view(1, 3, 1, 1)
    std = torch.tensor(pre.get('std', IMAGENET_STD)).view(1, 3, 1, 1)
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float()
    return img, (x - mean) / std


def capture(backbone: DAT, x: Tensor, stage: int,
            block: int) -> Dict[str, Tensor]:
    """Run the backbone and capture one deformable block.

    Returns:
        dict: ``pos`` and ``ref`` (G, Hk, Wk, 2), normalised ``(y, x)`` of
        the sampled and reference points of the first image; ``attn``
        (heads, H*W, Hk*Wk), its softmax attention; ``map_size`` (H, W) of
        the block's query map.

    Raises:
        ValueError: the block is not a deformable ('D') block.
    """
    if not 0 <= stage < len(backbone.stages) or not 0 <= block < len(
            backbone.stages[stage].blocks):
        raise ValueError(f'no block {block} in stage {stage}')
    blk = backbone.stages[stage].blocks[block]
    if blk.attn_type != 'D':
        found = [(i, j) for i, s in enumerate(backbone.stages)
                 for j, b in enumerate(s.blocks) if b.attn_type == 'D']
        raise ValueError(f'stage {stage} block {block} is a {blk.attn_type!r}'
                         f" block, not 'D'; deformable (stage, block): "
                         f'{found}')
    out: Dict[str, Tensor] = {}

    def keep_positions(module, inputs, outputs):
        out['map_size'] = tuple(inputs[0].shape[2:])
        out['pos'], out['ref'] = outputs[1][0], outputs[2][0]

    def keep_attention(module, inputs, outputs):
        heads = blk.attn.num_heads
        out['attn'] = inputs[0].view(-1, heads, *inputs[0].shape[1:])[0]

    handles = [
        blk.attn.register_forward_hook(keep_positions),
        blk.attn.attn_drop.register_forward_hook(keep_attention)
    ]
    try:
        with torch.no_grad():
            backbone(x)
    finally:
        for h in handles:
            h.remove()
    return out


def to_pixels(norm: Tensor, map_size: Tuple[int, int],
              stride: int) -> np.ndarray:
    """Normalised ``(y, x)`` on a map (``align_corners=True``: -1 and 1
    are the centres of the first and last cells) -> image ``(x, y)``
    pixels, cell ``j`` covering pixels ``[j * stride, (j + 1) * stride)``."""
    size = norm.new_tensor(map_size)
    cells = (norm + 1) / 2 * (size - 1)
    return ((cells + 0.5) * stride).flip(-1).reshape(-1, 2).numpy()


def draw(image: np.ndarray,
         sample: Dict[str, Tensor],
         stride: int,
         group: int,
         query: Tuple[float, float],
         out: Optional[str] = None):
    """Draw one group's sampled keys and the query's attention over them.

    Args:
        image: RGB uint8 (S, S, 3), the network input.
        sample: :func:`capture`'s output.
        stride: Pixels per cell of the block's query map (``4 * 2**stage``).
        group: Offset group.
        query: ``(x, y)`` pixel of the query in ``image``.
        out: PNG path to save to, if given.

    Returns:
        matplotlib.figure.Figure: the figure; its scatter collections are
        labelled ``'reference points'``, ``'sampled keys'`` and ``'query'``.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    groups = sample['pos'].shape[0]
    if not 0 <= group < groups:
        raise ValueError(f'group must be in [0, {groups}), got {group}')
    h, w = sample['map_size']
    qx = min(max(int(query[0] // stride), 0), w - 1)
    qy = min(max(int(query[1] // stride), 0), h - 1)
    heads = sample['attn'].shape[0]
    per_group = heads // groups
    weights = sample['attn'][group * per_group:(group + 1) * per_group,
                             qy * w + qx].mean(0).numpy()
    ref = to_pixels(sample['ref'][group], (h, w), stride)
    pos = to_pixels(sample['pos'][group], (h, w), stride)

    fig, ax = plt.subplots(figsize=(6, 6 * image.shape[0] / image.shape[1]))
    ax.imshow(image)
    ax.scatter(ref[:, 0], ref[:, 1], s=4, c='0.7', label='reference points')
    ax.quiver(
        ref[:, 0], ref[:, 1], pos[:, 0] - ref[:, 0], pos[:, 1] - ref[:, 1],
        angles='xy', scale_units='xy', scale=1, width=0.002, color='0.85',
        alpha=0.6)
    sizes = 4 + 80 * weights / max(float(weights.max()), 1e-12)
    ax.scatter(pos[:, 0], pos[:, 1], s=sizes, c=weights, cmap='autumn_r',
               edgecolors='k', linewidths=0.3, label='sampled keys')
    ax.scatter([(qx + 0.5) * stride], [(qy + 0.5) * stride], s=160,
               marker='*', c='red', edgecolors='w', label='query')
    ax.set_xlim(0, image.shape[1])
    ax.set_ylim(image.shape[0], 0)
    ax.set_axis_off()
    ax.set_title(f'{len(pos)} sampled keys of group {group}', fontsize=9)
    if out is not None:
        fig.savefig(out, dpi=100, bbox_inches='tight')
    return fig


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config with a DAT backbone')
    parser.add_argument('image', help='input image')
    parser.add_argument(
        '--checkpoint', help='weights (random initialisation without)')
    parser.add_argument(
        '--size', type=int,
        help='input side in pixels (default: the backbone img_size)')
    parser.add_argument('--stage', type=int, default=2, help='stage (0-3)')
    parser.add_argument(
        '--block', type=int, default=1,
        help="block in the stage; must be a deformable ('D') block")
    parser.add_argument('--group', type=int, default=0, help='offset group')
    parser.add_argument(
        '--query', type=float, nargs=2, metavar=('X', 'Y'),
        help='query pixel in the resized input (default: the centre)')
    parser.add_argument('--out', default='dat_sampling.png', help='PNG path')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the random initialisation')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    cfg = Config.fromfile(args.config)
    backbone = build_backbone(cfg, args.checkpoint)
    size = args.size or cfg.model.backbone.get('img_size', 224)
    image, x = load_image(cfg, args.image, size)
    sample = capture(backbone, x, args.stage, args.block)
    query = tuple(args.query) if args.query else (size / 2, size / 2)
    fig = draw(image, sample, 4 * 2**args.stage, args.group, query,
               args.out)
    import matplotlib.pyplot as plt
    plt.close(fig)
    print(f'saved {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
