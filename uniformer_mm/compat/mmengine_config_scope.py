"""MMEngine: ``uniformer_mm::path`` configs without ``import uniformer_mm``.

Upstream: MMEngine resolves ``package::path`` (in ``_base_`` and
``mmengine.hub.get_config``) only for the packages named in its table
``mmengine.config.utils.MODULE2PACKAGE`` and offers no API to add one;
open-mmlab/mmengine#1411 proposed it and was closed unmerged.

Applies to: mmengine 0.x (verified on 0.10.7), and only while the table
lacks ``uniformer_mm``. When ``mmengine.config.utils`` is first imported its
real loader runs, then ``uniformer_mm`` is added to the table.
"""
FIRST, LAST = (0, 0, 0), (0, 99, 99)

# The key users write before '::' and the value MMEngine hands to
# mmengine.utils.get_installed_path: a module *inside* the package, so that
# it locates the package through importlib (dirname of uniformer_mm/
# version.py), i.e. the copy Python imports. The distribution name would give
# site-packages/uniformer_mm, which an editable install does not have.
CONFIG_SCOPE = 'uniformer_mm'
CONFIG_LOCATOR = 'uniformer_mm.version'


def applies(version) -> bool:
    from _uniformer_mm_startup import in_range
    return in_range(version, FIRST, LAST)


def register(utils_module) -> bool:
    """Add ``uniformer_mm`` to ``MODULE2PACKAGE``; True if it was added."""
    from _uniformer_mm_startup import installed_version
    table = getattr(utils_module, 'MODULE2PACKAGE', None)
    if (not isinstance(table, dict) or CONFIG_SCOPE in table
            or not applies(installed_version('mmengine'))):
        return False
    table[CONFIG_SCOPE] = CONFIG_LOCATOR
    return True


def find_spec(fullname, real_spec):
    """The real spec with a registering loader, or None (not ours)."""
    from _uniformer_mm_startup import installed_version, patched_spec
    if not applies(installed_version('mmengine')):
        return None
    return patched_spec(real_spec, register)


def install() -> None:
    from _uniformer_mm_startup import install as install_startup_hook
    install_startup_hook()
