"""The command line shared by the project's four commands."""
import argparse
import os
import os.path as osp
import sys
from typing import Callable, Tuple

import torch
from mmengine.config import Config, DictAction
from mmengine.logging import MMLogger

from .envs import TSCIInputError
from .evaluation import METHODS


def run(main: Callable[[], None]) -> None:
    """Run a command; bad input (:class:`TSCIInputError`) ends it with its
    one-line message and exit status 1 instead of a traceback."""
    try:
        main()
    except TSCIInputError as err:
        sys.exit(f'error: {err}')


def parse_args(
        command: str,
        description: str,
        agent: bool = False,
        mask: bool = False,
        methods: bool = False) -> Tuple[Config, str, argparse.Namespace]:
    """Parse ``CONFIG [--work-dir] [--cfg-options]`` and the files a
    command reads (``--agent`` defaults to ``<work-dir>/agent.zip``,
    ``--mask`` to ``<work-dir>/mask_net.pth``); log to
    ``<work-dir>/<command>.log``; seed torch with ``cfg.seed``.

    Returns:
        tuple: The config, the work directory and the parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='a projects/TSCI/configs file')
    parser.add_argument(
        '--work-dir',
        help='output folder (default: work_dirs/tsci/<config name>)')
    if agent:
        parser.add_argument('--agent', help='agent checkpoint (.zip)')
    if mask:
        parser.add_argument('--mask', help='mask network checkpoint (.pth)')
    if methods:
        parser.add_argument('--methods', nargs='+', choices=METHODS,
                            help='default: the config\'s evaluation.methods')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. agent.n_envs=4')
    args = parser.parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    work_dir = args.work_dir or osp.join(
        'work_dirs', 'tsci', osp.splitext(osp.basename(args.config))[0])
    os.makedirs(work_dir, exist_ok=True)
    if agent and args.agent is None:
        args.agent = osp.join(work_dir, 'agent.zip')
    if mask and args.mask is None:
        args.mask = osp.join(work_dir, 'mask_net.pth')
    if methods and args.methods is None:
        args.methods = list(cfg.evaluation.methods)
    MMLogger.get_instance(
        'tsci', log_file=osp.join(work_dir, f'{command}.log'))
    torch.manual_seed(cfg.seed)
    return cfg, work_dir, args
