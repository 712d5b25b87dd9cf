_base_ = './_base_/tsci_ale.py'
env_id = 'ALE/Enduro-v5'
