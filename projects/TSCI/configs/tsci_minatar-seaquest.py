_base_ = './_base_/tsci_minatar.py'
env_id = 'MinAtar/Seaquest-v1'
mask_net = dict(in_channels=10)
evaluation = dict(relevant_objects=[
    'sub_front', 'sub_back', 'friendly_bullet', 'enemy_bullet',
    'enemy_fish', 'enemy_sub', 'diver'
])
