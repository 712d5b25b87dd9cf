"""Convert TAMT and VideoMAE checkpoints to mmext.

Two kinds of file are recognised by their content (never by their path):

- a TAMT fine-tuned model (``meta_train.py``: ``{'epoch', 'state'}``, keys
  ``feature.*`` for the ViT with its adapters, ``layer_reduce*`` and
  ``head2`` for the GTMT head) becomes the whole ``EpisodicClassifier`` of
  ``configs/tamt`` (``backbone.*``, ``neck.*``), usable as ``load_from`` or
  with ``tools/test.py``;
- a VideoMAE ViT (the pretrained source model TAMT starts from: ``'module'``
  or ``'model'`` container, VideoMAE key names; self-supervised files with
  ``encoder.`` keys too) becomes ``backbone.*`` only, the adapters, norms and
  head left to their initialisation (``load_from`` loads it non-strictly;
  the configs' backbone ``init_cfg`` reads such files directly).

Parameters that never run in the authors' model (the adapters' ``G``
branch, every block's ``temporal_conv`` and ``norm3``) and VideoMAE's
classifier and position table are dropped; the keys and shapes are checked
against the model built from ``configs/tamt``.

Usage::

    python tools/model_converters/tamt2mmext.py SRC DST
"""
import os.path as osp
import sys
from typing import Dict, Optional, Sequence

from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import save_checkpoint

from mmext.models.backbones.tamt_vit import videomae_to_mmext
from mmext.models.necks.gtmt import gtmt_to_mmext
from mmext.utils.converter import (check_converted, load_checkpoint,
                                   run_cli, src_dst_parser)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = ('configs/tamt/'
          'tamt_vit-small-p16_1xb1-5way-5shot-30e_k400-to-hmdb51.py')


def expected_shapes() -> Dict:
    """Key -> shape of the TAMT model of ``configs/tamt``."""
    import mmext  # noqa: F401
    from mmext.registry import MODELS
    cfg = Config.fromfile(osp.join(ROOT, CONFIG)).model
    cfg.backbone.init_cfg = None
    with DefaultScope.overwrite_default_scope('mmext'):
        model = MODELS.build(cfg)
    return {
        k: v.shape
        for k, v in model.state_dict().items()
        if not k.startswith('data_preprocessor.')
    }


def convert(src: str, dst: str) -> Dict:
    """Convert ``src`` to ``{'state_dict', 'meta'}`` at ``dst``; returns the
    meta (``kind``: ``'tamt'`` or ``'videomae'``, ``config``).

    Raises:
        FileNotFoundError: ``src`` is missing.
        ValueError: ``src`` is not a checkpoint or not a VideoMAE/TAMT one,
            or a tensor has the wrong shape.
        KeyError: a key with no counterpart, or a missing one.
    """
    ckpt = load_checkpoint(src)
    try:
        out = {f'backbone.{k}': v
               for k, v in videomae_to_mmext(ckpt, src).items()}
        state = ckpt.get('state') if isinstance(ckpt, dict) else None
        tamt = isinstance(state, dict) and any(
            k.startswith('feature.') for k in state)
        expected = expected_shapes()
        if tamt:
            out.update({f'neck.{k}': v
                        for k, v in gtmt_to_mmext(state, src).items()})
        else:  # a backbone only: what it lacks stays initialised
            expected = {
                k: v
                for k, v in expected.items()
                if k.startswith('backbone.') and '.adapter.' not in k
                and not k.startswith(('backbone.fc_norm2.',
                                      'backbone.temporal_conv.'))
            }
            if 'backbone.fc_norm.weight' not in out:  # SSL encoders
                expected.pop('backbone.fc_norm.weight')
                expected.pop('backbone.fc_norm.bias')
        check_converted(out, expected, 'TAMT' if tamt else 'VideoMAE ViT')
    except KeyError as e:
        raise KeyError(f'{src}: {e.args[0]}') from e
    meta = dict(
        source=osp.basename(src),
        converter='tools/model_converters/tamt2mmext.py',
        kind='tamt' if tamt else 'videomae',
        config=CONFIG)
    if isinstance(ckpt, dict) and isinstance(ckpt.get('epoch'), int):
        meta['source_epoch'] = ckpt['epoch']
    save_checkpoint({'state_dict': out, 'meta': meta}, dst)
    return meta


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = src_dst_parser(
        'Convert a TAMT fine-tuned model or a VideoMAE ViT checkpoint to '
        "mmext's TAMT (EpisodicClassifier with TAMTViT and GTMTNeck).",
        'the TAMT (.tar/.pth) or VideoMAE (.pth) checkpoint')

    def run(args) -> str:
        meta = convert(args.src, args.dst)
        what = ('TAMT model (backbone + GTMT head)' if meta['kind'] == 'tamt'
                else 'VideoMAE backbone (adapters and head not included)')
        return f'saved {what} to {args.dst}\nconfig: {meta["config"]}'

    return run_cli(parser, run, argv)


if __name__ == '__main__':
    sys.exit(main())
