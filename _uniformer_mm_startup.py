"""Start-up hook of ``uniformer_mm``, run by ``uniformer_mm-startup.pth``.

Python's ``site`` module executes the ``import`` line of every ``*.pth`` file
in site-packages when an interpreter starts, so this module runs in EVERY
Python process of the environment. It therefore imports nothing (not even
``importlib``) and only puts one ``sys.meta_path`` finder first. The finder
answers for nothing but the few module names that ``uniformer_mm/compat/``
patches; when one of them is imported, it loads that patch file (standard
library only, by file path, without importing the ``uniformer_mm`` package
and its torch) and lets it decide, version-gated, what to return:

    mmengine.config.utils            compat/mmengine_config_scope.py
    mmengine.config.config           compat/mmengine_base_scope.py
    mmcv.transforms.loading          compat/mmcv_image_path.py
    mmaction.models.localizers.drn   compat/mmaction_drn.py
    mmpose.visualization.simcc_vis   compat/mmpose_simcc_vis.py

Fail-safe: an error here must never break an unrelated program; a patch that
fails is skipped and the import proceeds as without it.
"""
import sys

# module name imported by someone -> patch file in uniformer_mm/compat/
TRIGGERS = {
    'mmengine.config.utils': 'mmengine_config_scope',
    'mmengine.config.config': 'mmengine_base_scope',
    'mmcv.transforms.loading': 'mmcv_image_path',
    'mmaction.models.localizers.drn': 'mmaction_drn',
    'mmaction.models.localizers.drn.drn': 'mmaction_drn',
    'mmpose.visualization.simcc_vis': 'mmpose_simcc_vis',
}


def version_tuple(version) -> tuple:
    """'1.2.0rc1' -> (1, 2, 0): the leading numeric release parts."""
    parts = []
    for part in str(version).split('.'):
        digits = ''
        for char in part:
            if not char.isdigit():
                break
            digits += char
        if not digits:
            break
        parts.append(int(digits))
        if len(digits) < len(part):
            break
    return tuple(parts)


def in_range(version, first: tuple, last: tuple) -> bool:
    """``first <= version <= last``; False for an unknown version."""
    release = version_tuple(version)
    return bool(release) and first <= release <= last


def installed_version(distribution: str):
    """Version of an installed distribution, or None.

    Read from the metadata, not the package's ``__version__``: a patched
    module can be imported while its package is still initialising (MMEngine
    imports ``mmengine.config.utils`` before it sets ``__version__``)."""
    try:
        from importlib.metadata import version
        return version(distribution)
    except Exception:
        return None


def load_patch(name: str):
    """``uniformer_mm.compat.<name>``: the imported one if there is one,
    else loaded from its file next to this module (editable checkout and
    site-packages alike) without importing ``uniformer_mm`` itself."""
    full = 'uniformer_mm.compat.' + name
    module = sys.modules.get(full)
    if module is not None:
        return module
    import importlib.util
    import os
    path = os.path.join(
        os.path.dirname(os.path.abspath(__file__)), 'uniformer_mm', 'compat',
        name + '.py')
    spec = importlib.util.spec_from_file_location(full, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[full] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[full]
        raise
    return module


class _PatchingLoader:
    """Runs a module's real loader, then ``patch(module)``."""

    def __init__(self, loader, patch):
        self._loader, self._patch = loader, patch

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        self._patch(module)

    def __getattr__(self, name):  # get_source, get_code, ... for tools
        return getattr(self._loader, name)


def patched_spec(real_spec, patch):
    """The real module's spec (``real_spec()``), its loader then calling
    ``patch(module)`` once the module has been executed; None without one.
    """
    spec = real_spec()
    if spec is None or spec.loader is None:
        return None
    spec.loader = _PatchingLoader(spec.loader, patch)
    return spec


def _is_compat_finder(finder) -> bool:
    # by name: a reloaded module makes another class of the same finder
    return (type(finder).__name__ == 'CompatFinder'
            and type(finder).__module__ == __name__)


class CompatFinder:
    """Hands the patched module names to their patch (inserted first)."""

    def find_spec(self, fullname, path=None, target=None):
        name = TRIGGERS.get(fullname)
        if name is None:
            return None
        try:
            patch = load_patch(name)
            return patch.find_spec(
                fullname, lambda: self._next_spec(fullname, path, target))
        except Exception:
            return None  # as if uninstalled

    def _next_spec(self, fullname, path, target):
        """The spec the finders after us give (the real module's)."""
        for finder in sys.meta_path:
            if _is_compat_finder(finder) or not hasattr(finder, 'find_spec'):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                return spec
        return None


def install() -> None:
    """Put the finder first on ``sys.meta_path`` once; never raises."""
    try:
        if not any(_is_compat_finder(f) for f in sys.meta_path):
            sys.meta_path.insert(0, CompatFinder())
        # imported before us: patch them now
        utils_module = sys.modules.get('mmengine.config.utils')
        if utils_module is not None:
            load_patch('mmengine_config_scope').register(utils_module)
        config_module = sys.modules.get('mmengine.config.config')
        if config_module is not None:
            load_patch('mmengine_base_scope').unscope(config_module)
        loading_module = sys.modules.get('mmcv.transforms.loading')
        if loading_module is not None:
            load_patch('mmcv_image_path').name_unreadable_images(
                loading_module)
    except Exception:
        pass
