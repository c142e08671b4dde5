"""uniformer_mm/compat/: each patch applies to the upstream versions it
names and does nothing on others; the start-up finder hands only the patched
module names to them."""
import types

import pytest

import _uniformer_mm_startup as startup
from uniformer_mm.compat import (mmaction_drn, mmcv_image_path,
                                 mmengine_base_scope, mmengine_config_scope,
                                 mmpose_simcc_vis)


@pytest.mark.parametrize('version, expected', [('1.2.0', (1, 2, 0)),
                                               ('0.10.7', (0, 10, 7)),
                                               ('1.2.0rc1', (1, 2, 0)),
                                               ('2.13.0+cpu', (2, 13, 0)),
                                               ('1.3', (1, 3)), ('dev', ()),
                                               (None, ())])
def test_version_tuple(version, expected):
    assert startup.version_tuple(version) == expected


@pytest.mark.parametrize('patch, affected, unaffected', [
    (mmaction_drn, ['1.2.0'], ['1.1.0', '1.2.1', '2.0.0', None]),
    (mmpose_simcc_vis, ['1.0.0', '1.3.2'], ['0.29.0', '1.3.3', '2.0.0', None]),
    (mmengine_config_scope, ['0.10.7', '0.7.0'], ['1.0.0', None]),
    (mmengine_base_scope, ['0.10.7', '0.7.0'], ['1.0.0', None]),
    (mmcv_image_path, ['2.0.0', '2.1.0', '2.2.0'], ['1.7.2', '2.2.1', None]),
])
def test_applies_only_to_the_named_versions(patch, affected, unaffected):
    assert all(patch.applies(v) for v in affected)
    assert not any(patch.applies(v) for v in unaffected)


def _with_version(monkeypatch, version):
    monkeypatch.setattr(startup, 'installed_version', lambda dist: version)


def test_drn_stand_in_only_on_1_2_0_without_the_files(monkeypatch):
    missing = lambda: None  # noqa: E731
    present = lambda: object()  # noqa: E731
    _with_version(monkeypatch, '1.2.0')
    pkg = mmaction_drn.find_spec(mmaction_drn.PACKAGE, missing)
    assert pkg.submodule_search_locations is not None
    assert mmaction_drn.find_spec(mmaction_drn.MODULE, missing) is not None
    assert mmaction_drn.find_spec(mmaction_drn.PACKAGE, present) is None
    _with_version(monkeypatch, '1.1.0')
    assert mmaction_drn.find_spec(mmaction_drn.PACKAGE, missing) is None


def test_simcc_stand_in_only_without_torchvision(monkeypatch):
    name = mmpose_simcc_vis.MODULE
    monkeypatch.setattr(mmpose_simcc_vis, 'torchvision_missing', lambda: True)
    _with_version(monkeypatch, '1.3.2')
    assert mmpose_simcc_vis.find_spec(name, lambda: None) is not None
    _with_version(monkeypatch, '1.3.3')
    assert mmpose_simcc_vis.find_spec(name, lambda: None) is None
    _with_version(monkeypatch, '1.3.2')
    monkeypatch.setattr(mmpose_simcc_vis, 'torchvision_missing', lambda: False)
    assert mmpose_simcc_vis.find_spec(name, lambda: None) is None


def test_config_scope_registered_only_where_needed(monkeypatch):
    utils = types.SimpleNamespace(MODULE2PACKAGE={'mmdet': 'mmdet'})
    _with_version(monkeypatch, '1.0.0')
    assert not mmengine_config_scope.register(utils)
    assert 'uniformer_mm' not in utils.MODULE2PACKAGE
    _with_version(monkeypatch, '0.10.7')
    assert mmengine_config_scope.register(utils)
    assert utils.MODULE2PACKAGE['uniformer_mm'] == 'uniformer_mm.version'
    utils.MODULE2PACKAGE['uniformer_mm'] = 'elsewhere'  # already there
    assert not mmengine_config_scope.register(utils)
    assert utils.MODULE2PACKAGE['uniformer_mm'] == 'elsewhere'


def test_finder_answers_only_for_patched_names(monkeypatch):
    finder = startup.CompatFinder()
    assert finder.find_spec('os') is None
    assert finder.find_spec('mmaction.models.localizers') is None
    assert set(startup.TRIGGERS.values()) == {
        'mmengine_config_scope', 'mmengine_base_scope', 'mmaction_drn',
        'mmpose_simcc_vis', 'mmcv_image_path'
    }
    # a patch that fails is skipped, never raised into the import
    monkeypatch.setattr(
        startup, 'load_patch', lambda name:
        (_ for _ in ()).throw(RuntimeError('broken')))
    assert finder.find_spec('mmpose.visualization.simcc_vis') is None


def test_base_scope_dropped_only_for_our_package_where_needed(monkeypatch):

    class Config:

        @staticmethod
        def _get_cfg_path(cfg_path, filename):
            return 'resolved/' + cfg_path, cfg_path.split('::')[0]

    module = types.SimpleNamespace(Config=Config)
    _with_version(monkeypatch, '1.0.0')
    assert not mmengine_base_scope.unscope(module)
    assert Config._get_cfg_path('uniformer_mm::a.py', 'x')[1] == 'uniformer_mm'
    _with_version(monkeypatch, '0.10.7')
    assert mmengine_base_scope.unscope(module)
    assert Config._get_cfg_path('uniformer_mm::a.py', 'x') == (
        'resolved/uniformer_mm::a.py', None)
    # other packages keep their scope; patching twice changes nothing
    assert Config._get_cfg_path('mmdet::b.py', 'x')[1] == 'mmdet'
    assert not mmengine_base_scope.unscope(module)


def test_unreadable_image_is_named(tmp_path):
    """A zero-byte image (what a full disk leaves) stops the pipeline with
    its path, not OpenCV's bare '!buf.empty()'."""
    from mmcv.transforms import LoadImageFromFile
    assert getattr(LoadImageFromFile.transform, 'names_path', False)
    empty = tmp_path / 'img_000042.jpg'
    empty.write_bytes(b'')
    with pytest.raises(OSError) as error:
        LoadImageFromFile()(dict(img_path=str(empty)))
    assert f'{empty} (0 bytes)' in str(error.value)
    assert error.value.__cause__ is not None  # the decoder's own error
    # skipping stays possible
    assert LoadImageFromFile(ignore_empty=True)(
        dict(img_path=str(empty))) is None
