"""UperNet multi-scale + flip test sizes = the official ``--aug-test``
(issue 18, item 4).

Official: ``semantic_segmentation/tools/test.py --aug-test`` sets
``MultiScaleFlipAug.img_ratios = [0.5, ..., 1.75]`` and ``flip=True`` on
``img_scale=(2048, 512)`` (``configs/_base_/datasets/ade20k.py``). mmseg 0.x
scales ``img_scale`` by each ratio (``int(2048 r), int(512 r)``) and
``Resize(keep_ratio=True)`` rescales the image to fit it (mmcv
``rescale_size``: factor ``min(long / long_edge, short / short_edge)``, sizes
rounded with ``int(x * f + 0.5)``). The expected sizes below are that
formula, written out here.
"""
import numpy as np
import pytest
from conftest import CONFIGS
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image

RATIOS = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)
UPERNET = sorted(
    p.relative_to(CONFIGS).as_posix()
    for p in (CONFIGS / 'segmentation').glob('upernet_*.py'))


def official_size(w, h, r):
    """(w, h) after the official MultiScaleFlipAug branch of ratio r."""
    long_side, short_side = int(2048 * r), int(512 * r)
    factor = min(long_side / max(w, h), short_side / min(w, h))
    return int(w * factor + 0.5), int(h * factor + 0.5)


def test_every_upernet_config_has_the_official_tta():
    assert len(UPERNET) == 8
    for config in UPERNET:
        cfg = Config.fromfile(str(CONFIGS / config))
        resizes = cfg.tta_pipeline[1].transforms[0]
        assert [(t.scale, t.keep_ratio) for t in resizes] == [
            ((int(2048 * r), int(512 * r)), True) for r in RATIOS
        ], config
        flips = cfg.tta_pipeline[1].transforms[1]
        assert [f.prob for f in flips] == [0., 1.]
        assert cfg.tta_model.type == 'SegTTAModel'


@pytest.mark.parametrize('size', [(683, 512), (500, 375), (512, 768)])
def test_tta_image_sizes_follow_the_official_formula(size, tmp_path):
    from mmcv.transforms import Compose
    init_default_scope('mmseg')
    cfg = Config.fromfile(str(CONFIGS / UPERNET[0]))
    w, h = size
    img, seg = tmp_path / 'img.jpg', tmp_path / 'seg.png'
    Image.fromarray(np.zeros((h, w, 3), np.uint8)).save(img)
    Image.fromarray(np.ones((h, w), np.uint8)).save(seg)
    out = Compose(cfg.tta_pipeline)(
        dict(
            img_path=str(img),
            seg_map_path=str(seg),
            reduce_zero_label=True,
            seg_fields=[]))
    got = [tuple(s.img_shape[::-1]) for s in out['data_samples']]
    # TestTimeAug: every scale, each with no flip then flip
    want = [official_size(w, h, r) for r in RATIOS for _ in range(2)]
    assert got == want
    assert [s.flip for s in out['data_samples']] == [False, True] * 6
    # the mmseg 1.x default (scale_factor=r on the image) differs unless
    # the short side is already 512
    default = [(int(w * r + 0.5), int(h * r + 0.5)) for r in RATIOS]
    assert (default == want[::2]) == (min(w, h) == 512)
