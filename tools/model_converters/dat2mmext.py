"""Convert the DAT authors' released ImageNet checkpoints to mmext.

The checkpoints of LeapLabTHU/DAT at commit 566a593 (``dat_{tiny,small,
base}_in1k_224.pth``, ``dat_base_in1k_384.pth``) come from Swin's training
code: ``{'model': state_dict, 'optimizer': ..., 'lr_scheduler': ...,
'max_accuracy': ..., 'epoch': ..., 'config': ...}`` (a bare state dict is
accepted too). The result loads into an mmpretrain ``ImageClassifier`` with a
``DAT`` backbone, a ``GlobalAveragePooling`` neck and a ``LinearClsHead``;
the key mapping itself is ``checkpoint_filter_fn`` in
``mmext/models/backbones/dat.py``. The window attention's
``relative_position_index`` and ``attn_mask`` buffers are dropped (mmext
recomputes them).

Usage::

    python tools/model_converters/dat2mmext.py SRC DST
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

import torch
from mmengine.runner import save_checkpoint

from mmext.models.backbones import dat
from mmext.utils import CheckpointError, safe_torch_load


def load_state_dict(path: str) -> tuple:
    """Read ``(state_dict, extra)``; ``extra`` holds ``epoch`` and
    ``max_accuracy`` when the file has them."""
    try:
        ckpt = safe_torch_load(path, map_location='cpu')
    except CheckpointError as e:
        raise ValueError(str(e)) from e
    extra = {}
    state_dict = ckpt
    if isinstance(ckpt, dict):
        for key in ('model', 'state_dict'):
            if isinstance(ckpt.get(key), dict):
                state_dict = ckpt[key]
                break
        for key in ('epoch', 'max_accuracy'):
            value = ckpt.get(key)
            if isinstance(value, torch.Tensor) and value.numel() == 1:
                value = value.item()
            if isinstance(value, (int, float)):
                extra[key] = value
    if not isinstance(state_dict, dict) or not state_dict:
        raise ValueError(f'{path} holds no state_dict')
    for key, value in state_dict.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise ValueError(f'{path}: entry {key!r} of the state_dict is not '
                             'a tensor; not a model checkpoint')
    return state_dict, extra


def convert(src: str, dst: str) -> dict:
    """Convert ``src`` to an mmext checkpoint at ``dst``; returns its meta.

    ``meta['backbone']`` is the backbone config the weights fit, e.g.
    ``dict(type='DAT', arch='tiny', img_size=224, window_size=7)``.

    Raises:
        FileNotFoundError: ``src`` is missing.
        ValueError: ``src`` is not a checkpoint.
        KeyError: ``src`` has a key DAT lacks, or lacks one it needs.
    """
    state_dict, extra = load_state_dict(src)
    try:
        info = dat.infer_arch(state_dict)
        new_state_dict = dat.checkpoint_filter_fn(state_dict)
    except KeyError as e:
        raise KeyError(f'{src}: {e.args[0]}') from e
    backbone = dict(
        type='DAT',
        arch=info['arch'],
        img_size=info['img_size'],
        window_size=info['window_size'])
    meta = dict(
        source=osp.basename(src),
        converter='tools/model_converters/dat2mmext.py',
        backbone=backbone,
        num_classes=info['num_classes'],
        **{f'source_{k}': v
           for k, v in extra.items()})
    save_checkpoint({'state_dict': new_state_dict, 'meta': meta}, dst)
    return meta


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description='Convert a DAT (LeapLabTHU/DAT, CVPR 2022) checkpoint to '
        'an mmpretrain ImageClassifier checkpoint for mmext.')
    parser.add_argument('src', help="the authors' checkpoint (.pth)")
    parser.add_argument('dst', help='where to write the converted checkpoint')
    args = parser.parse_args(argv)
    try:
        meta = convert(args.src, args.dst)
    except KeyError as e:
        print(f'error: {e.args[0]}', file=sys.stderr)
        return 1
    except (OSError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(f'saved DAT ({meta["num_classes"]} classes) to {args.dst}\n'
          f'backbone config: {meta["backbone"]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
