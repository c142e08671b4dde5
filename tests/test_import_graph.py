"""The package's folders import each other without cycles, and the
backbones (``models/``) build on nothing else of ours.

Every ``import`` counts, including those inside functions: a lazy import
is still a dependency."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / 'uniformer_mm'


def _imported(path: Path):
    """Absolute module names ``path`` imports."""
    package = list(path.relative_to(PACKAGE.parent).parent.parts)
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if not node.level:
                yield node.module
                continue
            base = '.'.join(package[:len(package) - node.level + 1])
            if node.module:
                yield f'{base}.{node.module}'
            else:
                yield from (f'{base}.{alias.name}' for alias in node.names)


def folder_graph():
    """Top-level part of the package -> the other parts it imports."""
    graph = {}
    for path in PACKAGE.rglob('*.py'):
        rel = path.relative_to(PACKAGE).parts
        part = rel[0] if len(rel) > 1 else path.stem
        for name in _imported(path):
            if name and name.startswith('uniformer_mm.'):
                target = name.split('.')[1]
                if target != part:
                    graph.setdefault(part, set()).add(target)
    return graph


def find_cycle(graph):
    """A cycle as a list of nodes, or None."""
    state = {}

    def visit(node, trail):
        state[node] = 'open'
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 'open':
                return trail[trail.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt, trail + [nxt])
                if found:
                    return found
        state[node] = 'done'
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node, [node])
            if found:
                return found
    return None


def test_cycle_finder_finds_an_injected_cycle():
    graph = folder_graph()
    graph.setdefault('models', set()).add('checkpoints')
    assert find_cycle(graph) is not None
    assert find_cycle({'a': {'b'}, 'b': {'c'}}) is None
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == [
        'a', 'b', 'c', 'a'
    ]


def test_no_import_cycle_between_folders():
    graph = folder_graph()
    # the graph is read from the real files
    assert 'models' in graph['checkpoints'], graph
    assert find_cycle(graph) is None, ' -> '.join(find_cycle(graph))


def test_backbones_import_nothing_else_of_ours():
    assert folder_graph().get('models', set()) == set()
