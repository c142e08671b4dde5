"""MMEngine: ``uniformer_mm::`` bases resolve names in the config's scope.

Upstream: MMEngine gives every typed dict of a ``package::path`` base the
registry scope ``_scope_=package`` (``Config._get_cfg_path`` returns the
package as the scope), the OpenMMLab convention of one package per
codebase. ``uniformer_mm`` configs belong to four codebases (each config's
``default_scope``), so an inherited ``TopdownPoseEstimator`` or pose
``CocoDataset`` was looked up in a ``uniformer_mm`` registry and not found.
No upstream issue covers packages that span codebases.

Applies to: mmengine 0.x (verified on 0.10.7) where
``Config._get_cfg_path`` exists. Once ``mmengine.config.config`` has been
executed, ``uniformer_mm::`` paths come back with no scope: their names
resolve in the config's ``default_scope``, as for a relative ``_base_``.
"""
FIRST, LAST = (0, 0, 0), (0, 99, 99)
PACKAGE = 'uniformer_mm'


def applies(version) -> bool:
    from _uniformer_mm_startup import in_range
    return in_range(version, FIRST, LAST)


def unscope(config_module) -> bool:
    """Patch ``Config._get_cfg_path``; True if it was patched now."""
    from _uniformer_mm_startup import installed_version
    config_cls = getattr(config_module, 'Config', None)
    method = getattr(config_cls, '__dict__', {}).get('_get_cfg_path')
    original = getattr(method, '__func__', None)
    if (original is None or getattr(original, 'unscoped', False)
            or not applies(installed_version('mmengine'))):
        return False

    def _get_cfg_path(cfg_path, filename):
        path, scope = original(cfg_path, filename)
        return path, (None if scope == PACKAGE else scope)

    _get_cfg_path.unscoped = True
    config_cls._get_cfg_path = staticmethod(_get_cfg_path)
    return True


def find_spec(fullname, real_spec):
    """The real spec with a patching loader, or None (not ours)."""
    from _uniformer_mm_startup import installed_version, patched_spec
    if not applies(installed_version('mmengine')):
        return None
    return patched_spec(real_spec, unscope)
