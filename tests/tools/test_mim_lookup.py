"""Where ``mim search uniformer_mm`` looks for the zoo (docs/en/faq.md): the
distribution's location, so a wheel works and an editable install does
not."""
import json
import os
from importlib import metadata

import pytest


def test_mim_looks_under_the_distribution_location():
    utils = pytest.importorskip('mim.utils')
    dist = metadata.distribution('uniformer_mm')
    direct_url = dist.read_text('direct_url.json')
    editable = bool(direct_url) and json.loads(direct_url).get(
        'dir_info', {}).get('editable', False)
    found = utils.get_installed_path('uniformer_mm')
    index = os.path.join(found, '.mim', 'model-index.yml')
    location = str(dist.locate_file(''))
    assert os.path.dirname(found) == os.path.normpath(location)
    if editable:
        # the package is in the checkout, its metadata in site-packages
        assert not os.path.exists(index)
    else:
        assert os.path.isfile(index)
