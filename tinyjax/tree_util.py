"""Pytrees with JAX's conventions: tuples, lists, dicts (keys sorted), None (an empty
node), namedtuples, and classes registered with `register_pytree_node`."""
import collections
import functools

_registry = {}


class PyTreeDef:
    __slots__ = ('kind', 'aux', 'children', 'num_leaves', '_k', '_h')

    def __init__(self, kind, aux, children):
        self.kind, self.aux, self.children = kind, aux, tuple(children)
        self.num_leaves = 1 if kind == 'leaf' else sum(c.num_leaves for c in self.children)
        self._k = self._h = None

    @property
    def num_nodes(self):
        return 1 + sum(c.num_nodes for c in self.children)

    def _key(self):
        # Computed once: treedefs are immutable, and jit hashes one on every call.
        if self._k is None:
            self._k = (self.kind if isinstance(self.kind, str) else id(self.kind),
                       _hashable(self.aux), tuple(c._key() for c in self.children))
        return self._k

    def __eq__(self, other):
        return self is other or (isinstance(other, PyTreeDef) and self._key() == other._key())

    def __hash__(self):
        if self._h is None:
            self._h = hash(self._key())
        return self._h

    def unflatten(self, leaves):
        return tree_unflatten(self, leaves)

    def flatten_up_to(self, tree):
        return flatten_up_to(self, tree)

    def __repr__(self):
        return f'PyTreeDef({_show(self)})'


def _hashable(aux):
    try:
        hash(aux)
        return aux
    except TypeError:
        return repr(aux)


def _show(t):
    if t.kind == 'leaf':
        return '*'
    if t.kind == 'none':
        return 'None'
    inner = ', '.join(_show(c) for c in t.children)
    if t.kind == 'tuple':
        return f'({inner}{"," if len(t.children) == 1 else ""})'
    if t.kind == 'list':
        return f'[{inner}]'
    if t.kind == 'dict':
        return '{' + ', '.join(f'{k!r}: {_show(c)}' for k, c in zip(t.aux[1], t.children)) + '}'
    if t.kind == 'namedtuple':
        return f'CustomNode(namedtuple[{t.aux.__name__}], [{inner}])'
    name = t.kind.__name__ if isinstance(t.kind, type) else str(t.kind)
    return f'CustomNode({name}[{t.aux!r}], [{inner}])'


def register_pytree_node(nodetype, flatten_func, unflatten_func):
    """flatten_func(x) -> (children, aux_data); unflatten_func(aux_data, children) -> x."""
    if nodetype in _registry or nodetype in (tuple, list, dict, type(None)):
        raise ValueError(f'Duplicate custom PyTreeDef type registration for {nodetype}.')
    _registry[nodetype] = (flatten_func, unflatten_func)


def register_pytree_node_class(cls):
    register_pytree_node(cls, lambda x: x.tree_flatten(), cls.tree_unflatten)
    return cls


def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(type(x), '_fields')


def _node_children(x):
    """(kind, aux, children) for an interior node, or None for a leaf."""
    if x is None:
        return 'none', None, ()
    t = type(x)
    if t in _registry:
        children, aux = _registry[t][0](x)
        return t, aux, list(children)
    if _is_namedtuple(x):
        return 'namedtuple', t, list(x)
    if t is tuple:
        return 'tuple', None, list(x)
    if t is list:
        return 'list', None, list(x)
    if t in (dict, collections.OrderedDict, collections.defaultdict):
        keys = _sorted_keys(x) if t is not collections.OrderedDict else list(x.keys())
        aux = (t, tuple(keys), getattr(x, 'default_factory', None))
        return 'dict', aux, [x[k] for k in keys]
    return None


def _sorted_keys(d):
    try:
        return sorted(d.keys())
    except TypeError as e:
        raise ValueError('Comparator raised exception while sorting pytree dictionary '
                         f'keys: {e}') from e


def tree_flatten(tree, is_leaf=None):
    leaves = []
    return leaves, _flatten(tree, is_leaf, leaves)


# The recursions below are module functions, not closures: a nested function that calls
# itself is a reference cycle (function -> cell -> function) holding what it captured
# (the leaves) until the cyclic GC runs, so each block_until_ready(f(x)) kept f's
# outputs alive and the next call's buffers came from freshly faulted pages.
def _flatten(x, is_leaf, leaves):
    if is_leaf is not None and is_leaf(x):
        leaves.append(x)
        return PyTreeDef('leaf', None, ())
    node = _node_children(x)
    if node is None:
        leaves.append(x)
        return PyTreeDef('leaf', None, ())
    kind, aux, children = node
    return PyTreeDef(kind, aux, [_flatten(c, is_leaf, leaves) for c in children])


def tree_unflatten(treedef, leaves):
    leaves = list(leaves)
    if len(leaves) != treedef.num_leaves:
        few = 'few' if len(leaves) < treedef.num_leaves else 'many'
        raise ValueError(f'Too {few} leaves for PyTreeDef; expected {treedef.num_leaves}, '
                         f'got {len(leaves)}.')
    return _build(treedef, iter(leaves))


def _build(t, it):
    if t.kind == 'leaf':
        return next(it)
    if t.kind == 'none':
        return None
    children = [_build(c, it) for c in t.children]
    if t.kind == 'tuple':
        return tuple(children)
    if t.kind == 'list':
        return children
    if t.kind == 'namedtuple':
        return t.aux(*children)
    if t.kind == 'dict':
        cls, keys, factory = t.aux
        if cls is collections.defaultdict:
            return collections.defaultdict(factory, zip(keys, children))
        return cls(zip(keys, children))
    return _registry[t.kind][1](t.aux, children)


def tree_leaves(tree, is_leaf=None):
    return tree_flatten(tree, is_leaf)[0]


def tree_structure(tree, is_leaf=None):
    return tree_flatten(tree, is_leaf)[1]


def tree_map(f, tree, *rest, is_leaf=None):
    """f applied leaf by leaf; each tree in `rest` has `tree`'s structure or has it as a
    prefix (a leaf of `tree` then matches a whole subtree, as in JAX)."""
    leaves, treedef = tree_flatten(tree, is_leaf)
    others = [flatten_up_to(treedef, r) for r in rest]
    return tree_unflatten(treedef, [f(*xs) for xs in zip(leaves, *others)])


def flatten_up_to(treedef, tree):
    """Leaves of `tree` taken at the leaf positions of `treedef` (a prefix of tree)."""
    out = []
    _up_to(treedef, tree, out)
    return out


def _up_to(t, x, out):
    if t.kind == 'leaf':
        out.append(x)
        return
    node = _node_children(x)
    if node is None or node[0] != t.kind:
        what = 'a leaf' if node is None else f'a subtree of type {type(x)}'
        raise ValueError(f'pytree structure error: different types: expected {_show(t)}, '
                         f'got {what}: {x!r}')
    kind, aux, children = node
    if len(children) != len(t.children):
        raise ValueError(f'pytree structure error: different numbers of children: '
                         f'expected {_show(t)}, got {x!r}')
    if _hashable(aux) != _hashable(t.aux):
        raise ValueError(f'pytree structure error: different pytree metadata: expected '
                         f'{_show(t)}, got {x!r}')
    for c, xc in zip(t.children, children):
        _up_to(c, xc, out)


def tree_transpose(outer_treedef, inner_treedef, pytree_to_transpose):
    flat = flatten_up_to(outer_treedef, pytree_to_transpose)
    inners = [flatten_up_to(inner_treedef, x) for x in flat]
    cols = [tree_unflatten(outer_treedef, list(col)) for col in zip(*inners)]
    return tree_unflatten(inner_treedef, cols)


def tree_all(tree):
    return all(tree_leaves(tree))


def tree_reduce(function, tree, initializer=None):
    leaves = tree_leaves(tree)
    return functools.reduce(function, leaves) if initializer is None else \
        functools.reduce(function, leaves, initializer)


_UNSPECIFIED = object()


def tree_reduce_associative(operation, tree, *, identity=_UNSPECIFIED, is_leaf=None):
    """Reduce the leaves pairwise, as a balanced tree (operation must be associative)."""
    leaves = tree_leaves(tree, is_leaf)
    if not leaves:
        if identity is _UNSPECIFIED:
            raise TypeError('Must specify identity for parallel reduction of empty sequence.')
        return identity
    while len(leaves) > 1:
        pairs = [operation(a, b) for a, b in zip(leaves[::2], leaves[1::2])]
        leaves = pairs + leaves[len(pairs) * 2:]
    return leaves[0]


def treedef_is_leaf(treedef):
    """True for a leaf and for None (a node with no children), as in JAX."""
    return treedef.num_nodes == 1


def all_leaves(iterable, is_leaf=None):
    """Whether every element of `iterable` is a leaf (None is not a leaf)."""
    return all(tree_structure(x, is_leaf).kind == 'leaf' for x in iterable)


class Partial:
    """functools.partial that is a pytree (its bound arguments are leaves), like JAX's."""

    def __init__(self, func, *args, **kwargs):
        self.func, self.args, self.keywords = func, args, kwargs

    def __call__(self, *args, **kwargs):
        return self.func(*self.args, *args, **{**self.keywords, **kwargs})


register_pytree_node(
    Partial,
    lambda p: ((p.args, p.keywords), p.func),
    lambda func, children: Partial(func, *children[0], **children[1]))


from tinyjax.tree_keys import (  # noqa: E402,F401
    DictKey, FlattenedIndexKey, GetAttrKey, KeyEntry, KeyPath, SequenceKey, flatten_one_level,
    flatten_one_level_with_keys, is_tree_node, keystr, register_dataclass,
    register_pytree_with_keys, register_pytree_with_keys_class, register_static, tree_broadcast,
    tree_flatten_with_path, tree_leaves_with_path, tree_map_with_path, treedef_children,
    treedef_tuple)
