# Meta DeepBDC 5-way 5-shot on tieredImageNet: as the 1-shot config (1,000
# episodes per epoch for both shots; a separate model per shot).
_base_ = ['./deepbdc-meta_resnet12_5way-1shot-100e_tiered-imagenet.py']
num_shots = 5
train_dataloader = dict(dataset=dict(num_shots=num_shots))
val_cfg = dict(num_shots=num_shots)
test_cfg = dict(num_shots=num_shots)
