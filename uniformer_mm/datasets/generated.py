"""What every data generator of this package shares: the RNG streams and
the manifest recording what was generated.

* :func:`rng_stream` -- one ``numpy`` generator per sample, keyed by the
  data set's seed and whatever tells the samples apart (split, index,
  annotation file name), so the output is reproducible and independent of
  how many samples are asked for.
* :class:`Manifest` -- a JSON file beside the data (``ROOT/manifest.json``
  for the synthetic sets, ``<ann_file>.standin.json`` for the stand-ins)
  holding ``generator``, ``params`` (everything the content depends on),
  ``state`` (``'writing'`` or ``'done'``), ``files`` (relative to the
  manifest's folder) and extras (statistics, the annotation file's hash).
  A call whose manifest is current does nothing.
"""
import json
import os
import os.path as osp
import zlib
from typing import List, Optional, Sequence, Union

import numpy as np


def rng_stream(*keys: Union[int, str]) -> np.random.Generator:
    """The RNG stream of one sample: ``keys`` are ints, or strings (taken
    by their CRC-32, which is stable across runs, unlike ``hash``)."""
    return np.random.default_rng([
        zlib.crc32(k.encode()) if isinstance(k, str) else int(k) for k in keys
    ])


def generator_params(defaults: dict, given: dict, func: str) -> dict:
    """``defaults`` with the values ``given``, each cast to the type of its
    default; a name that is not a default raises ``TypeError``, as a
    function with those keyword arguments would."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise TypeError(f'{func}() got unexpected keyword arguments '
                        f'{unknown}; it takes {sorted(defaults)}')
    return {k: type(v)(given.get(k, v)) for k, v in defaults.items()}


def read_json(path: str) -> Optional[dict]:
    """The JSON object in ``path``; None when it is missing or unreadable."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


class Manifest:
    """The record of one generated data set (see the module doc).

    Args:
        path (str): The manifest file.
        generator (str): The module that writes it; a manifest of another
            generator is not ours.
        params (dict): Everything the content depends on.
    """

    def __init__(self, path: str, generator: str, params: dict):
        self.path = path
        self.generator = generator
        self.params = params

    def read(self) -> Optional[dict]:
        """The manifest's content, or None when missing or not ours."""
        old = read_json(self.path)
        if not isinstance(old, dict) or old.get('generator') != self.generator:
            return None
        return old

    def abspath(self, rel: str) -> str:
        return osp.normpath(osp.join(osp.dirname(self.path), rel))

    def relpath(self, path: str) -> str:
        return osp.relpath(path, osp.dirname(self.path) or '.')

    def current(self, at_least: Sequence[str] = ()) -> Optional[List[str]]:
        """The files (absolute) of a finished data set with these
        parameters whose files all exist, or None. ``at_least``: parameters
        that a data set with a larger value also satisfies."""
        old = self.read()
        if old is None or old.get('state') != 'done':
            return None
        have = dict(old.get('params') or {})
        want = dict(self.params)
        for key in at_least:
            if not have.get(key, -1) >= want.pop(key):
                return None
            have.pop(key)
        if have != want:
            return None
        files = [self.abspath(p) for p in old.get('files', [])]
        return files if all(osp.exists(p) for p in files) else None

    def write(self, **content) -> None:
        """Write the manifest atomically: ``generator``, ``params``, then
        ``content`` in its order (``state``, ``files`` relative to the
        manifest's folder, extras)."""
        content = dict(generator=self.generator, params=self.params, **content)
        tmp = f'{self.path}.partial-{os.getpid()}'
        with open(tmp, 'w') as f:
            json.dump(content, f, indent=1)
        os.replace(tmp, self.path)
