"""Convert the TCP authors' checkpoints to mmext.

ZilinGao/Temporal-attentive-Covariance-Pooling-Networks-for-Video-Recognition
releases trained TCP models (``{'epoch', 'arch', 'state_dict',
'best_prec1', ...}``, DataParallel's ``module.`` prefix; keys in their newer
``base_model.TCP.*`` style or the older ``iSQRT`` / ``att_module`` style) and
the ImageNet GCP models they initialise from (``ImgeNet1K_GCP_R50``,
``ImgeNet11K_1K_preact_R152_GCP``: backbone plus the ``layer_reduce{1,2}``
reduction). Both become a ``Recognizer2D`` state dict for the configs in
``configs/tcp/`` (the mapping is :func:`mmext.models.heads.tcp_head.
convert_tcp_checkpoint`); the keys and shapes are checked against the model
built from the matching config. A GCP file converted this way is what the
configs' ``init_cfg`` loads (backbone and reduction layers); ``--tsm`` maps
it onto the shifted backbone of the TSM config.

Usage::

    python tools/model_converters/tcp2mmext.py SRC DST [--tsm]
"""
import os.path as osp
import sys
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import save_checkpoint

from mmext.models.heads.tcp_head import convert_tcp_checkpoint
from mmext.utils.converter import (check_converted, load_state_dict, run_cli,
                                   src_dst_parser)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: (backbone, TSM, frames) -> the mmext config of that model (Kinetics-400).
CONFIGS = {
    ('resnet50', False, 8):
    'configs/tcp/tcp_tsn-r50_4xb24-1x1x8-50e_kinetics400-rgb.py',
    ('resnet50', False, 16):
    'configs/tcp/tcp_tsn-r50_4xb24-1x1x16-50e_kinetics400-rgb.py',
    ('preact-resnet152', False, 8):
    'configs/tcp/tcp_tsn-preact-r152_4xb13-1x1x8-40e_kinetics400-rgb.py',
    ('resnet50', True, 8):
    'configs/tcp/tcp_tsm-r50_4xb24-1x1x8-50e_kinetics400-rgb.py',
}


def expected_shapes(info: Dict) -> Tuple[Dict[str, torch.Size], str]:
    """Key -> shape of the model ``info`` describes, built from the config
    of its backbone (with its classes and frames; for a GCP file only the
    backbone and the reduction layers), and that config's path."""
    from mmaction.registry import MODELS
    frames = info['num_segments'] or 8
    key = (info['backbone'], info['tsm'], frames)
    path = CONFIGS.get(key) or CONFIGS[(info['backbone'], info['tsm'], 8)]
    cfg = Config.fromfile(osp.join(ROOT, path)).model
    cfg.backbone.init_cfg = None
    cfg.cls_head.init_cfg = None
    cfg.cls_head.num_segments = frames
    if 'num_segments' in cfg.backbone:
        cfg.backbone.num_segments = frames
    if info['num_classes']:
        cfg.cls_head.num_classes = info['num_classes']
    with DefaultScope.overwrite_default_scope('mmaction'):
        model = MODELS.build(cfg)
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    if info['kind'] == 'gcp':
        shapes = {
            k: v
            for k, v in shapes.items()
            if not k.startswith(('cls_head.attention.', 'cls_head.fc_cls.'))
        }
    return shapes, path


def convert(src: str, dst: str, tsm: Optional[bool] = None) -> Dict:
    """Convert ``src`` to ``{'state_dict', 'meta'}`` at ``dst``; returns the
    meta (``backbone``, ``tsm``, ``kind``, ``num_classes``,
    ``num_segments``, ``config``, ``dropped``).

    Raises:
        FileNotFoundError: ``src`` is missing.
        ValueError: ``src`` is not a checkpoint, or a tensor has the wrong
            shape.
        KeyError: a key with no counterpart, or one the model needs is
            missing; the message names the file and the key.
    """
    state_dict, extra = load_state_dict(
        src, extra_keys=('arch', 'epoch', 'best_prec1'))
    try:
        out, info = convert_tcp_checkpoint(state_dict, tsm=tsm)
        shapes, path = expected_shapes(info)
        what = f'TCP {info["backbone"]}{" TSM" if info["tsm"] else ""}'
        check_converted(out, shapes, what)
    except KeyError as e:
        raise KeyError(f'{src}: {e.args[0]}') from e
    except ValueError as e:
        raise ValueError(f'{src}: {e}') from e
    meta = dict(
        source=osp.basename(src),
        converter='tools/model_converters/tcp2mmext.py',
        config=path,
        **info,
        **{f'source_{k}': v
           for k, v in extra.items()})
    save_checkpoint({'state_dict': out, 'meta': meta}, dst)
    return meta


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = src_dst_parser(
        "Convert a TCP or TCP-GCP (ImageNet) checkpoint of the TCP authors "
        'to an mmaction2 Recognizer2D checkpoint with mmext\'s TCPHead.',
        "the authors' checkpoint (.pth.tar)")
    parser.add_argument(
        '--tsm', action='store_true', default=None,
        help='map a ResNet-50 onto ResNetTSM (the shifted convs under .net); '
        'detected for TSM-trained checkpoints')

    def run(args) -> str:
        meta = convert(args.src, args.dst, args.tsm)
        what = ('ImageNet GCP backbone + reduction' if meta['kind'] == 'gcp'
                else f'TCP model ({meta["num_classes"]} classes, '
                f'{meta["num_segments"]} frames)')
        dropped = f'; dropped {len(meta["dropped"])} key(s) ' \
            f'{meta["dropped"]}' if meta['dropped'] else ''
        return (f'saved {meta["backbone"]}{" TSM" if meta["tsm"] else ""} '
                f'{what} to {args.dst}{dropped}\nconfig: {meta["config"]}')

    return run_cli(parser, run, argv)


if __name__ == '__main__':
    sys.exit(main())
