# TSCI on MinAtar (10x10 object channels): agent training, mask training,
# evaluation and visualisation. A game's config sets env_id,
# mask_net.in_channels and evaluation.relevant_objects.
seed = 0

# RecurrentPPO (sb3-contrib) with the MinAtar paper's network
# (conv 3x3x16 + linear) before the LSTM; ~1000 env steps/s on one CPU core.
agent = dict(
    total_timesteps=1_000_000,
    n_envs=8,
    device='cpu',
    features_extractor='minatar',
    features_dim=128,
    lstm_hidden_size=128,
    ppo=dict(
        n_steps=128,
        batch_size=256,
        n_epochs=4,
        learning_rate=1e-3,
        gamma=0.99,
        gae_lambda=0.95,
        clip_range=0.2,
        ent_coef=0.01))

# the masked history o_{t-K+1..t} and the unmasked following steps t+1..t+L
window = 4
horizon = 4

mask_net = dict(
    type='CausalDiscoveryNet',
    base_channels=16,
    num_downs=0,
    num_temporal_blocks=2)
mask_loss = dict(
    type='TemporalCausalMaskLoss',
    divergence='kl',
    fidelity_weight=1.0,
    sparsity_weight=0.05,
    history_weight=0.0,
    future_discount=0.9)
mask_train = dict(
    num_env_steps=50_000,
    deterministic=False,
    max_episode_steps=2000,
    batch_size=32,
    iters=5000,
    log_interval=100,
    optim_wrapper=dict(optimizer=dict(type='Adam', lr=1e-3)))

evaluation = dict(
    seed=1000,
    num_env_steps=5000,
    max_episode_steps=2000,
    num_windows=1000,
    batch_size=50,
    keep_fraction=0.2,
    # decisions t..t+num_decisions-1 compared (1: the decision at t only;
    # horizon + 1: all decisions of the temporal causality loss)
    num_decisions=1,
    deletion_steps=20,
    return_episodes=10,
    methods=['tsci', 'gradient', 'occlusion', 'perturbation', 'random'],
    occlusion=dict(patch=2, stride=1),
    perturbation=dict(mask_sigma=1.0, blur_sigma=1.0, stride=1))

vis = dict(seed=2000, max_steps=200, num_strips=4, scale=16, frame_ms=100)
