"""README.md and docs/en/*.md: every relative link and every command path
points at something that exists, and docs/en/model_zoo.md is what
tools/analysis/model_zoo.py writes from the metafiles."""
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / 'README.md'] + sorted((ROOT / 'docs' / 'en').glob('*.md'))

# [text](target): relative targets only (no scheme, no mailto)
LINK = re.compile(r'\[[^\]]*\]\(([^)\s]+)\)')
# repository paths as commands and prose name them; not preceded by a path
# character, so '../shared/tools/x' or 'uniformer_mm/.mim/tools/x' are
# not read as 'tools/x'
REPO_PATH = re.compile(
    r'(?<![\w./\-{}])((?:tools|configs|scripts|docs|requirements)/'
    r'[\w./\-{},<>*]*)')

# paths of other repositories that the pages name on purpose
NOT_OURS = {
    'configs/_base_/datasets/coco.py',  # MMPose's dataset-info example
    'configs/my_mask_rcnn.py',  # a user project's config
}


def _load(rel: str):
    spec = importlib.util.spec_from_file_location(Path(rel).stem, ROOT / rel)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = heading.strip().lower().replace('`', '')
    text = re.sub(r'[^\w\- ]', '', text)
    return text.replace(' ', '-')


def anchors(page: Path) -> set:
    text = re.sub(r'```.*?```', '', page.read_text(), flags=re.S)
    return {
        slug(m.group(1))
        for m in re.finditer(r'^#{1,6} (.+)$', text, flags=re.M)
    }


def expand_braces(path: str) -> list:
    m = re.search(r'\{([^{}]*)\}', path)
    if not m:
        return [path]
    return [
        expanded for alt in m.group(1).split(',')
        for expanded in expand_braces(path[:m.start()] + alt + path[m.end():])
    ]


def broken_links(page: Path, text: str) -> list:
    """(target, why) of each relative link of ``text`` that points at
    nothing; ``page`` is where the text lives."""
    text = re.sub(r'```.*?```', '', text, flags=re.S)
    broken = []
    for target in LINK.findall(text):
        if re.match(r'[a-z]+:', target):
            continue  # http(s)://, mailto:
        path, _, anchor = target.partition('#')
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append((target, 'no such file'))
        elif anchor and dest.suffix == '.md' and anchor not in anchors(dest):
            broken.append((target, f'no heading #{anchor} in {dest.name}'))
    return broken


def missing_paths(text: str) -> list:
    """Repository paths named in ``text`` (code included) that do not
    exist; placeholders (<task>, *, CONFIG) are skipped."""
    missing = []
    for raw in REPO_PATH.findall(text):
        raw = raw.rstrip('.,:;)')
        if any(c in raw for c in '<>*') or '...' in raw or raw in NOT_OURS:
            continue
        for path in expand_braces(raw):
            if not (ROOT / path).exists():
                missing.append(path)
    return missing


@pytest.mark.parametrize('page', PAGES, ids=lambda p: p.name)
def test_relative_links_exist(page):
    broken = broken_links(page, page.read_text())
    assert not broken, f'{page.relative_to(ROOT)}: broken links {broken}'


@pytest.mark.parametrize('page', PAGES, ids=lambda p: p.name)
def test_command_paths_exist(page):
    missing = missing_paths(page.read_text())
    assert not missing, (f'{page.relative_to(ROOT)} names paths that do '
                         f'not exist: {sorted(set(missing))}')


def test_checkers_catch_broken_links_and_paths():
    page = ROOT / 'docs' / 'en' / 'faq.md'
    text = ('[ok](model_zoo.md) [gone](nope.md) [anchor](faq.md#no-such) '
            '[web](https://example.com)\n'
            '`python tools/train.py` and `bash tools/no_such_tool.sh`, '
            'configs/{detection,nowhere}/README.md, configs/<task>/x.py')
    assert broken_links(page, text) == [('nope.md', 'no such file'),
                                        ('faq.md#no-such',
                                         'no heading #no-such in faq.md')]
    assert missing_paths(text) == [
        'tools/no_such_tool.sh', 'configs/nowhere/README.md'
    ]


def test_slug_matches_github():
    assert slug('Presets (`arch`)') == 'presets-arch'
    assert slug('Converting official checkpoints: '
                '`tools/convert_official.py`') == (
                    'converting-official-checkpoints-toolsconvert_officialpy')


def test_model_zoo_page_matches_metafiles():
    model_zoo = _load('tools/analysis/model_zoo.py')
    page = ROOT / 'docs' / 'en' / 'model_zoo.md'
    assert page.read_text() == model_zoo.render(), (
        'docs/en/model_zoo.md is stale: run '
        'python tools/analysis/model_zoo.py')


def test_model_zoo_lists_every_metafile_model():
    import yaml
    text = (ROOT / 'docs' / 'en' / 'model_zoo.md').read_text()
    models = [
        m for path in sorted((ROOT / 'configs').glob('**/metafile.yml'))
        for m in yaml.safe_load(path.read_text())['Models']
    ]
    assert len(models) >= 71
    for model in models:
        row = next(line for line in text.splitlines()
                   if f'](../../{model["Config"]})' in line)
        # no Results where there was no official run (UCF101 / HMDB51
        # splits 2 and 3): the row shows '-' and no weights
        for result in model.get('Results', []):
            for value in result['Metrics'].values():
                assert f' {value} |' in row, (model['Name'], value)
        if model.get('Weights'):
            assert model['Weights'] in row


def test_benchmark_markdown_table():
    benchmark = _load('tools/analysis/benchmark.py')
    eager = dict(forward=2.0, train=6.0, peak=800 * 2**20)
    ours = dict(forward=1.0, train=4.0, peak=200 * 2**20)
    text = benchmark.markdown_tables(
        [('backbone', 's-224', dict(eager=eager, ours=ours))],
        'a test CPU, 2 cores', 'python tools/analysis/benchmark.py', 3)
    assert 'Machine: a test CPU, 2 cores.' in text
    assert '| s-224 | eager | 2.000 | 6.000 | 800 | - | - |' in text
    # speed-up eager / ours, memory ours / eager
    assert '| s-224 | ours | 1.000 | 4.000 | 200 | 2.00x / 1.50x | 0.25x |' \
        in text
