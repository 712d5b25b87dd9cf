_base_ = './_base_/tsci_minatar.py'
env_id = 'MinAtar/SpaceInvaders-v1'
mask_net = dict(in_channels=6)
evaluation = dict(relevant_objects=['cannon', 'alien', 'enemy_bullet',
                                    'friendly_bullet'])
