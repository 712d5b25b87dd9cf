# Meta DeepBDC 5-way 5-shot on miniImageNet: as the 1-shot config with 600
# episodes per epoch (a separate model per shot, DeepBDC issue #3).
_base_ = ['./deepbdc-meta_resnet12_5way-1shot-100e_mini-imagenet.py']
num_shots = 5
train_dataloader = dict(dataset=dict(num_episodes=600, num_shots=num_shots))
val_cfg = dict(num_shots=num_shots)
test_cfg = dict(num_shots=num_shots)
