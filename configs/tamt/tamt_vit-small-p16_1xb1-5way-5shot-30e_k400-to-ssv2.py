# TAMT 5-way 5-shot, Kinetics-400 -> Something-Something V2 (the authors'
# scripts/SSv2/run_meta_deepbdc/run_metatrain.sh): as the HMDB51 config with
# lr 5e-4. Split files: data/sthv2/{base,val,novel}.json (filelist/SSv2Full).
_base_ = ['./tamt_vit-small-p16_1xb1-5way-5shot-30e_k400-to-hmdb51.py']
data_root = 'data/sthv2'
train_dataloader = dict(dataset=dict(dataset=dict(data_root=data_root)))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
optim_wrapper = dict(optimizer=dict(lr=5e-4))
