r"""Train TSCI's causal discovery network on a frozen agent and save it.

    python projects/TSCI/train_mask.py \
        projects/TSCI/configs/tsci_minatar-breakout.py
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from tsci import train_mask_net  # noqa: E402
from tsci.cli import parse_args, run  # noqa: E402


def main() -> None:
    cfg, work_dir, args = parse_args('train_mask', __doc__, agent=True)
    train_mask_net(cfg, args.agent, osp.join(work_dir, 'mask_net.pth'))


if __name__ == '__main__':
    run(main)
