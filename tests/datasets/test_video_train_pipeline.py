"""A video zoo config's own train pipeline, RandAugment included, on a real
video file in a process where torchvision and pytorchvideo cannot be
imported: what a user without them (every CPU machine here, a GPU cluster
that skips them) runs when training.
"""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ('configs/video/uniformer-s_imagenet1k-pre_8xb4-16x4x1-110e_'
                 'kinetics400-rgb.py')

# Runs in a fresh interpreter; the blocker goes in before anything else is
# imported, so any import of torchvision / pytorchvideo on the way fails
# as if they were not installed.
SCRIPT = r'''
import importlib.abc
import sys

BLOCKED = ('torchvision', 'pytorchvideo')


class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname.split('.')[0] in BLOCKED:
            raise ModuleNotFoundError(f'{fullname} is blocked by this test',
                                      name=fullname)
        return None


sys.meta_path.insert(0, Blocker())

import copy
import json

import numpy as np
from mmengine.config import Config
from mmengine.registry import DefaultScope

config, root = sys.argv[1:3]
cfg = Config.fromfile(config)  # custom_imports register ClipRandAugment
from mmaction.registry import DATASETS  # noqa: E402

dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)  # repeat wrapper
dataset_cfg.dataset.update(ann_file=f'{root}/list.txt',
                           data_prefix=dict(video=root))
with DefaultScope.overwrite_default_scope(cfg.default_scope):
    dataset = DATASETS.build(dataset_cfg)
types = [type(t).__name__ for t in dataset.dataset.pipeline.transforms]
np.random.seed(0)
items = dataset[0] + dataset[0]  # 2 x 2 repeats
for blocked in BLOCKED:
    try:
        __import__(blocked)
    except ImportError:
        pass
    else:
        raise AssertionError(f'{blocked} was importable')
print(json.dumps(dict(
    types=types,
    shapes=[list(item['inputs'].shape) for item in items],
    dtype=str(items[0]['inputs'].dtype),
    label=int(items[0]['data_samples'].gt_label),
    means=[float(item['inputs'].float().mean()) for item in items],
    loaded=sorted(m for m in sys.modules if m.split('.')[0] in BLOCKED))))
'''


def test_zoo_train_pipeline_without_torchvision(tmp_path):
    from uniformer_mm.datasets.synthetic_video import write_video

    # 40 frames of a moving gradient, 48x64: SampleFrames(16, 4) loops
    # over the short file as MMAction2 does
    t = np.arange(40)[:, None, None, None]
    x = np.arange(64)[None, None, :, None]
    y = np.arange(48)[None, :, None, None]
    frames = ((x * 3 + y * 2 + t * 5) % 256 + np.zeros(3)).astype(np.uint8)
    write_video(str(tmp_path / 'clip0.mp4'), frames)
    (tmp_path / 'list.txt').write_text('clip0.mp4 7\n')

    result = subprocess.run(
        [sys.executable, '-c', SCRIPT,
         str(CONFIG), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=str(ROOT))
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out['types'][:4] == [
        'CheckedPyAVInit', 'SlowFastSampleFrames', 'CheckedPyAVDecode',
        'ClipRandAugment'
    ]
    # one clip of 16 frames, 3 x 224 x 224, as the model's preprocessor wants
    assert out['shapes'] == [[1, 3, 16, 224, 224]] * 4
    assert out['dtype'] == 'torch.uint8' and out['label'] == 7
    # random augmentation: four draws of the same clip differ
    assert len(set(out['means'])) == 4
    assert out['loaded'] == []
