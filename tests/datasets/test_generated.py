"""The one manifest scheme and RNG helper of the data generators."""
import json
import os.path as osp
import zlib

import numpy as np
import pytest

from uniformer_mm.datasets.generated import (Manifest, generator_params,
                                             rng_stream)


def test_rng_stream_keys_strings_by_crc32():
    # the stand-ins' streams were seeded with [seed, crc32(name), index]
    want = np.random.default_rng([3, zlib.crc32(b'val.json'), 7]).random(4)
    assert np.array_equal(rng_stream(3, 'val.json', 7).random(4), want)
    assert not np.array_equal(rng_stream(3, 'val.json', 8).random(4), want)


def test_generator_params_cast_and_refuse_unknown_names():
    got = generator_params(
        dict(num=1, size=0.5), dict(num=np.int64(4)), 'make_x')
    assert got == dict(num=4, size=0.5) and type(got['num']) is int
    with pytest.raises(TypeError, match=r"make_x\(\).*\['nmu'\]"):
        generator_params(dict(num=1), dict(nmu=2), 'make_x')


def test_manifest_current(tmp_path):
    (tmp_path / 'a.txt').write_text('x')
    record = Manifest(str(tmp_path / 'm.json'), 'gen', dict(frames=40, k=1))
    assert record.current() is None  # nothing written yet
    record.write(state='writing', files=['a.txt'])
    assert record.current() is None  # interrupted
    record.write(state='done', files=['a.txt'])
    assert record.current() == [str(tmp_path / 'a.txt')]
    # a larger value of an at_least parameter also serves
    fewer = Manifest(record.path, 'gen', dict(frames=32, k=1))
    assert fewer.current() is None
    assert fewer.current(at_least=('frames', )) == record.current()
    assert Manifest(record.path, 'gen', dict(frames=40, k=2)).current() is None
    assert Manifest(record.path, 'other', record.params).read() is None
    (tmp_path / 'a.txt').unlink()
    assert record.current() is None  # a file is missing


def test_earlier_manifest_format_is_regenerated(tmp_path):
    from uniformer_mm.datasets.synthetic import make_seg_dataset
    root = tmp_path / 'seg'
    root.mkdir()
    # what make_seg_dataset wrote before the manifests were unified
    (root / 'manifest.json').write_text(
        json.dumps(dict(kind='seg', version=1, params={}, files=[])))
    small = dict(num_train=1, num_val=1, image_size=32)
    make_seg_dataset(str(root), verbose=False, **small)
    with open(root / 'manifest.json') as f:
        record = json.load(f)
    assert record['state'] == 'done'
    assert record['params']['kind'] == 'seg'
    assert all(osp.exists(root / p) for p in record['files'])
