"""Patches to upstream packages, one file each.

Each file names the upstream issue it works around and the versions it
applies to, and does nothing on other versions. They are applied by the
start-up hook ``_uniformer_mm_startup`` (one ``sys.meta_path`` finder that
loads a patch file only when the patched module is imported), so every file
here imports the standard library only at module level. ``install()`` of
each is for interpreters that skip site-packages' ``.pth`` files
(``python -S``): ``import uniformer_mm`` calls it.
"""
