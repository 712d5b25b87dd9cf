# RISA on scikit-image's sample images, 32x32 crops, AdaIN generator.
# Sections: images (the data), generator, feature_net (the network of the
# Fréchet distance), data (generation and label refinement), assessor.

# iterations between log lines of the three trainings
log_interval = 50

images = dict(
    # content (source) images and style references: skimage.data names
    content=[
        'astronaut', 'coffee', 'chelsea', 'rocket', 'camera', 'coins',
        'moon', 'page', 'text', 'clock'
    ],
    style=[
        'brick', 'grass', 'gravel', 'colorwheel', 'immunohistochemistry',
        'hubble_deep_field', 'retina', 'checkerboard'
    ],
    crop_size=32,
    # shorter image side before cropping
    short_side=96)

generator = dict(
    model=dict(
        type='RISGenerator',
        content_encoder=dict(type='RISContentEncoder', channels=(16, 32, 64)),
        style_encoder=dict(
            type='RISStyleEncoder', channels=(16, 32, 64), style_dim=32),
        decoder=dict(type='RISAdaINDecoder', num_blocks=2),
        content_weight=1.0,
        style_weight=5.0),
    max_iters=3000,
    batch_size=16,
    lr=1e-3,
    # checkpoints saved uniformly over training (SnapshotHook)
    num_snapshots=24,
    seed=0)

feature_net = dict(
    model=dict(type='RISAFeatureNet', channels=(16, 32, 64)),
    max_iters=1500,
    batch_size=32,
    lr=1e-3,
    seed=0)

data = dict(
    num_train_pairs=64,
    num_test_pairs=32,
    # every heldout_every-th snapshot is held out (test split only)
    heldout_every=3,
    # training snapshots within elbow_window positions of the Fréchet
    # distance's elbow are interpolated pairwise (consecutive ones)
    elbow_window=3,
    # interpolated images per training pair and consecutive snapshot pair
    num_interp=2,
    seed=1)

assessor = dict(
    model=dict(
        type='RISAssessor',
        extractor=dict(type='RISAStyleExtractor', channels=(32, 64, 128)),
        num_classifiers=8,
        # None: k / (K + 1), k = 1..K
        thresholds=None,
        hidden_dim=64,
        contrastive_loss=dict(
            type='StyleContrastiveLoss', temperature=0.1, loss_weight=0.1),
        augment=dict(flip=True, rot90=True, crop_scale=(0.5, 1.0))),
    max_iters=2000,
    batch_size=32,
    lr=1e-3,
    seed=0)
