r"""Train TSCI's recurrent agent (RecurrentPPO) and save it.

    python projects/TSCI/train_agent.py \
        projects/TSCI/configs/tsci_minatar-breakout.py
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from tsci import train_agent  # noqa: E402
from tsci.cli import parse_args, run  # noqa: E402


def main() -> None:
    cfg, work_dir, _ = parse_args('train_agent', __doc__)
    train_agent(cfg, osp.join(work_dir, 'agent.zip'))


if __name__ == '__main__':
    run(main)
