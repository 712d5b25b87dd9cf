_base_ = './_base_/tsci_minatar.py'
env_id = 'MinAtar/Breakout-v1'
mask_net = dict(in_channels=4)  # paddle, ball, trail, brick
evaluation = dict(relevant_objects=['paddle', 'ball', 'trail'])
