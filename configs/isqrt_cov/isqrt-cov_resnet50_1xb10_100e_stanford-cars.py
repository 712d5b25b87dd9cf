# iSQRT-COV ResNet-50 fine-tuned on Stanford Cars (196 classes) at 448 x 448
# with the CUB recipe of the authors' finetune.sh.
_base_ = ['./isqrt-cov_resnet50_1xb10_100e_cub.py']

model = dict(head=dict(num_classes=196))
data_preprocessor = dict(num_classes=196)

train_dataloader = dict(
    dataset=dict(
        type='StanfordCars', data_root='data/stanford_cars', split='train'))
val_dataloader = dict(
    dataset=dict(
        type='StanfordCars', data_root='data/stanford_cars', split='test'))
test_dataloader = val_dataloader
