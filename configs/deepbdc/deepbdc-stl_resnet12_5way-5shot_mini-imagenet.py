# STL DeepBDC 5-way 5-shot meta-test on miniImageNet: logistic regression
# C = 2 (see the 1-shot config).
_base_ = ['./deepbdc-stl_resnet12_pretrain-1xb64-170e_mini-imagenet.py']
num_shots = 5
lr_penalty = 2.0
val_cfg = dict(
    num_shots=num_shots,
    classifier=dict(type='LogisticRegressionHead', C=lr_penalty))
test_cfg = dict(
    num_shots=num_shots,
    classifier=dict(type='LogisticRegressionHead', C=lr_penalty))
