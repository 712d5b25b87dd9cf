# iSQRT-COV ResNet-50 fine-tuned on FGVC-Aircraft (100 variants, trainval /
# test) at 448 x 448 with the CUB recipe of the authors' finetune.sh.
_base_ = ['./isqrt-cov_resnet50_1xb10_100e_cub.py']

model = dict(head=dict(num_classes=100))
data_preprocessor = dict(num_classes=100)

train_dataloader = dict(
    dataset=dict(
        type='FGVCAircraft', data_root='data/fgvc_aircraft',
        split='trainval'))
val_dataloader = dict(
    dataset=dict(
        type='FGVCAircraft', data_root='data/fgvc_aircraft', split='test'))
test_dataloader = val_dataloader
