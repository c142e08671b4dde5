"""Format each distinct config text with yapf once (MMEngine 0.x).

Upstream: ``Config.pretty_text`` runs yapf's ``FormatCode`` on every call
(open-mmlab/mmcv#2466, "cfg.pretty_text very slow", open; MMEngine's
``mmengine/config/config.py`` kept the same code, unchanged up to 0.10.7).
A Runner asks for it five or six times for the same config (log, message
hub, dumped config, visualizer, each checkpoint's meta): ~0.8 s each,
measured 40 % of a CI-mode dry run of a video config. yapf is a pure
function of its arguments, so a cache keyed on them gives the same text.

Applies to MMEngine 0.x up to 0.10.7 (the versions checked) where
``mmengine.config.config.FormatCode`` exists; on any other version
:func:`format_each_config_once` changes nothing.
"""
import contextlib
from typing import Iterator

CHECKED_UP_TO = '0.10.7'


def applies() -> bool:
    """Whether this MMEngine has the per-call yapf formatting patched here."""
    import mmengine
    import mmengine.config.config as config_module
    from mmengine.utils import digit_version
    return (hasattr(config_module, 'FormatCode') and digit_version(
        mmengine.__version__) <= digit_version(CHECKED_UP_TO))


@contextlib.contextmanager
def format_each_config_once() -> Iterator[None]:
    """Within the block, yapf formats each distinct config text once."""
    if not applies():
        yield
        return
    import mmengine.config.config as config_module
    format_code = config_module.FormatCode
    formatted = {}

    def format_once(*args, **kwargs):
        key = repr((args, sorted(kwargs.items())))
        if key not in formatted:
            formatted[key] = format_code(*args, **kwargs)
        return formatted[key]

    config_module.FormatCode = format_once
    try:
        yield
    finally:
        config_module.FormatCode = format_code
