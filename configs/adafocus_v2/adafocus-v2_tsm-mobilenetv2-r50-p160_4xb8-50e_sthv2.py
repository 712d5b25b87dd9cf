# AdaFocusV2-TSM (P160) on Something-Something V2 (174 classes; JPEG frames
# extracted as for V1: data/sthv2/rawframes, sthv2_{train,val}_list_rawframes
# .txt); the V1 recipe.
_base_ = ['./adafocus-v2_tsm-mobilenetv2-r50-p160_4xb8-50e_sthv1.py']

train_dataloader = dict(
    dataset=dict(
        ann_file='data/sthv2/sthv2_train_list_rawframes.txt',
        data_prefix=dict(img='data/sthv2/rawframes')))
val_dataloader = dict(
    dataset=dict(
        ann_file='data/sthv2/sthv2_val_list_rawframes.txt',
        data_prefix=dict(img='data/sthv2/rawframes')))
test_dataloader = val_dataloader
