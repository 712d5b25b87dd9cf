# AdaFocusV2-TSM (P176) on Jester (27 classes; JPEG frames as
# mmaction2's tools/data/jester: data/jester/rawframes,
# jester_{train,val}_list_rawframes.txt); the Something-Something recipe.
_base_ = ['./adafocus-v2_tsm-mobilenetv2-r50-p176_4xb8-50e_sthv1.py']

model = dict(num_classes=27)
train_dataloader = dict(
    dataset=dict(
        ann_file='data/jester/jester_train_list_rawframes.txt',
        data_prefix=dict(img='data/jester/rawframes')))
val_dataloader = dict(
    dataset=dict(
        ann_file='data/jester/jester_val_list_rawframes.txt',
        data_prefix=dict(img='data/jester/rawframes')))
test_dataloader = val_dataloader
