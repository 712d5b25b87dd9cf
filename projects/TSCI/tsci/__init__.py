"""TSCI (Shi et al., arXiv 2112.03020) on MinAtar and Atari: the project's
code; the loss and the metrics are mmext components."""
from .agent import load_agent, policy_logits, train_agent
from .causal_discovery_net import CausalDiscoveryNet
from .envs import make_env
from .evaluation import evaluate
from .mask_training import load_mask_net, train_mask_net
from .visualization import visualize

__all__ = [
    'CausalDiscoveryNet', 'make_env', 'train_agent', 'load_agent',
    'policy_logits', 'train_mask_net', 'load_mask_net', 'evaluate',
    'visualize'
]
