"""Convert the AdaFocusV2 authors' checkpoints (LeapLabTHU/AdaFocusV2) to
mmext.

Both code bases are handled: ``main_v2.py`` (ActivityNet / FCVID /
Mini-Kinetics, ``{'state_dict'}`` behind ``module.``) gives an
:class:`~mmext.models.recognizers.AdaFocusV2`, whose mapping drops the
backbones' ImageNet heads that never run (``global_CNN.classifier``,
``local_CNN.fc``); ``main.py`` of the Sth-Sth / Jester experiments
(``{'epoch', 'arch', 'state_dict', ...}``) gives an
:class:`~mmext.models.recognizers.AdaFocusV2TSM`. The mappings are the
``checkpoint_filter_fn`` next to each model; this script builds the model of
``--config`` (without pretrained weights), maps and checks the weights and
writes an mmengine checkpoint.

Usage::

    python tools/model_converters/adafocus_v22mmext.py SRC DST --config CONFIG
"""
import os.path as osp
import sys
from typing import Optional, Sequence

from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope
from mmengine.runner import save_checkpoint

import mmext  # noqa: F401
from mmext.models.recognizers import adafocus_v2, adafocus_v2_tsm
from mmext.utils.converter import (check_converted, load_state_dict,
                                   run_cli, src_dst_parser)

#: model type -> the mapping from the authors' keys
FILTERS = {
    'AdaFocusV2': adafocus_v2.checkpoint_filter_fn,
    'AdaFocusV2TSM': adafocus_v2_tsm.checkpoint_filter_fn
}


def build_model(config: str):
    """The AdaFocusV2 model of ``config``, without pretrained weights."""
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    model_cfg = cfg.model.to_dict()
    if model_cfg.get('type') not in FILTERS:
        raise ValueError(f'{config}: model.type={model_cfg.get("type")!r}; '
                         f'expected one of {sorted(FILTERS)}')
    for part in ('global_backbone', 'local_backbone'):
        backbone = model_cfg[part]
        backbone.pop('pretrained', None)
        backbone['init_cfg'] = None
        if 'pretrained2d' in backbone:
            backbone['pretrained2d'] = False
    return MODELS.build(model_cfg)


def convert(src: str, dst: str, config: str) -> dict:
    """Convert ``src`` for the model of ``config``; returns the meta.

    Raises:
        FileNotFoundError: ``src`` is missing.
        ValueError: ``src`` is not a checkpoint, or its weights do not fit
            the model of ``config``.
    """
    state_dict, extra = load_state_dict(
        src, extra_keys=('epoch', 'arch', 'best_prec1'))
    model = build_model(config)
    try:
        converted = FILTERS[type(model).__name__](state_dict, model)
        check_converted(converted, {
            k: v.shape
            for k, v in model.state_dict().items()
        }, type(model).__name__)
    except (KeyError, ValueError) as e:
        raise ValueError(f'{src}: {e}') from e
    meta = dict(
        source=osp.basename(src),
        converter='tools/model_converters/adafocus_v22mmext.py',
        config=config,
        **extra)
    save_checkpoint({'state_dict': converted, 'meta': meta}, dst)
    return meta


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = src_dst_parser(
        'Convert an AdaFocusV2 (LeapLabTHU/AdaFocusV2) checkpoint to an mmext '
        'AdaFocusV2 / AdaFocusV2TSM checkpoint.',
        "the authors' checkpoint (main_v2.py or the Sth-Sth/Jester main.py)")
    parser.add_argument(
        '--config', required=True,
        help='the mmext AdaFocusV2 config of the same networks and number '
        'of classes')

    def run(args) -> str:
        convert(args.src, args.dst, args.config)
        return f'saved to {args.dst}'

    return run_cli(parser, run, argv)


if __name__ == '__main__':
    sys.exit(main())
