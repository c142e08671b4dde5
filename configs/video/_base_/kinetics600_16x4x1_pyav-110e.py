# Kinetics-600: the Kinetics-400 data recipe and schedule on the K600 lists
# (exp/uniformer_*_k600 upstream differ from K400 only in MODEL.NUM_CLASSES).
_base_ = ['./kinetics400_16x4x1_pyav-110e.py']

num_classes = 600
model = dict(
    cls_head=dict(num_classes=num_classes),
    data_preprocessor=dict(
        blending=dict(augments=[
            dict(type='MixupBlending', alpha=0.8, num_classes=num_classes),
            dict(type='CutmixBlending', alpha=1.0, num_classes=num_classes)
        ])))

data_root = 'data/kinetics600/videos_train'
data_root_val = 'data/kinetics600/videos_val'
ann_file_train = 'data/kinetics600/kinetics600_train_list_videos.txt'
ann_file_val = 'data/kinetics600/kinetics600_val_list_videos.txt'
train_dataloader = dict(
    dataset=dict(
        dataset=dict(
            ann_file=ann_file_train, data_prefix=dict(video=data_root))))
val_dataloader = dict(
    dataset=dict(ann_file=ann_file_val, data_prefix=dict(video=data_root_val)))
test_dataloader = val_dataloader
