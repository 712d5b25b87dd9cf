"""Convert the DAPL authors' prompt-learner checkpoint for mmext's DAPL.

The authors (LeapLabTHU/DAPrompt, ``trainers/dapl.py``) save only the
prompt learner: ``{'state_dict': {'ctx', 'domain_vectors', 'token_prefix',
'token_suffix'}, 'epoch', 'optimizer', 'scheduler'}`` under
``.../prompt_learner/model-best.pth.tar`` (the VisDA-17 release: RN101,
class-specific ``ctx`` of shape (12, 16, 512), ``domain_vectors`` (2, 16,
512)). The optimizer and scheduler entries pickle torch's ``SGD`` and
``CosineAnnealingLR`` (and a ``defaultdict``); they are read as inert
stand-ins, without running pickled code, and dropped. ``token_prefix`` / ``token_suffix`` are embeddings of the class and
domain words that mmext recomputes (the authors' ``load_model`` drops them
too). The output holds ``prompt_learner.ctx`` and
``prompt_learner.domain_vectors``; load it into a DAPL model whose CLIP
comes from ``clip_cfg`` (OpenAI weights through open_clip) with
``load_from`` or ``init_cfg=dict(type='Pretrained', checkpoint=DST)``,
e.g. ``configs/dapl/dapl_rn101-csc_1xb32-coslr-25e_visda17.py`` for the
released model.

Usage::

    python tools/model_converters/dapl2mmext.py SRC DST
"""
import sys
from typing import Optional, Sequence

import torch
from mmengine.runner import save_checkpoint

from mmext.models.multimodal.dapl import checkpoint_filter_fn
from mmext.utils.converter import load_state_dict, run_cli, src_dst_parser



class _PickledState:
    """Stands in for the optimizer and scheduler objects that the authors'
    trainer pickles next to the weights (nothing of them is executed; the
    converter drops them)."""


def _plain_dict(*args) -> dict:
    """Stands in for ``collections.defaultdict`` (the optimizer state's),
    which torch's weights-only unpickler cannot fill."""
    return {}


#: what the authors' checkpoint pickles besides tensors and containers
_AUTHORS_PICKLED = [(_plain_dict, 'collections.defaultdict'), dict,
                    (_PickledState, 'torch.optim.sgd.SGD'),
                    (_PickledState,
                     'torch.optim.lr_scheduler.CosineAnnealingLR')]


def convert(src: str, dst: str) -> str:
    with torch.serialization.safe_globals(_AUTHORS_PICKLED):
        state_dict, extra = load_state_dict(
            src, container_keys=('state_dict', ), extra_keys=('epoch', ))
    out = checkpoint_filter_fn(state_dict)
    save_checkpoint(
        dict(state_dict=out, meta=dict(source=src, **extra)), dst)
    shapes = ', '.join(f'{k} {tuple(v.shape)}' for k, v in out.items())
    total = sum(v.numel() for v in out.values())
    return f'saved {shapes} ({total:,} parameters) to {dst}'


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = src_dst_parser(
        "Convert the DAPL authors' prompt-learner checkpoint "
        '(model-best.pth.tar) for mmext\'s DAPL.',
        "the authors' checkpoint (prompt_learner/model-best.pth.tar)")
    return run_cli(parser, lambda args: convert(args.src, args.dst), argv)


if __name__ == '__main__':
    sys.exit(main())
