# TSCI on Atari (ale-py, 84x84 grayscale, 4-frame skip): long runs, meant
# for a GPU machine or hours on CPU. A game's config sets env_id.
_base_ = './tsci_minatar.py'

# sb3-contrib's RecurrentPPO Atari setting (rl-baselines3-zoo) with the
# Nature CNN before the LSTM; no frame stacking.
agent = dict(
    total_timesteps=10_000_000,
    device='auto',  # a GPU when there is one
    features_extractor='nature',
    features_dim=512,
    lstm_hidden_size=128,
    ppo=dict(learning_rate=2.5e-4, clip_range=0.1, vf_coef=0.5))

mask_net = dict(in_channels=1, base_channels=32, num_downs=2)
# SSINet's Atari sparsity weight
mask_loss = dict(sparsity_weight=0.005)
mask_train = dict(num_env_steps=50_000, max_episode_steps=27_000,
                  iters=5000)

evaluation = dict(
    num_env_steps=20_000,
    max_episode_steps=27_000,
    num_windows=500,
    batch_size=8,
    keep_fraction=0.1,
    return_episodes=5,
    # ALE has no object channels; OCAtari (RAM object positions) needs
    # numpy 1.26 and is not installed, so there is no object overlap
    relevant_objects=None,
    occlusion=dict(patch=8, stride=4),
    perturbation=dict(mask_sigma=5.0, blur_sigma=3.0, stride=5))

vis = dict(scale=3, max_steps=400)
