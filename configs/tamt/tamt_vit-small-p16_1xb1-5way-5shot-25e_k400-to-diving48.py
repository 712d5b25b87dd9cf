# TAMT 5-way 5-shot, Kinetics-400 -> Diving48 (the authors'
# scripts/Diving48/run_meta_deepbdc/run_metatrain.sh): 25 epochs of 300
# episodes, 150 validation episodes. Split files:
# data/diving48/{base,val,novel}.json (filelist/diving48).
_base_ = ['./tamt_vit-small-p16_1xb1-5way-5shot-25e_k400-to-ucf101.py']
data_root = 'data/diving48'
train_dataloader = dict(dataset=dict(dataset=dict(data_root=data_root)))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
