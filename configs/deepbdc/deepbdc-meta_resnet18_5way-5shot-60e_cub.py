# Meta DeepBDC 5-way 5-shot on CUB: as the 1-shot config (a separate model
# per shot).
_base_ = ['./deepbdc-meta_resnet18_5way-1shot-60e_cub.py']
num_shots = 5
train_dataloader = dict(dataset=dict(num_shots=num_shots))
val_cfg = dict(num_shots=num_shots)
test_cfg = dict(num_shots=num_shots)
