"""Key paths through pytrees (`tree_flatten_with_path`, `keystr`, ...) and the
registrations that name a node's children (`register_pytree_with_keys`,
`register_dataclass`, `register_static`), with JAX's key classes: a sequence child is
`SequenceKey(i)`, a dict child `DictKey(k)`, a namedtuple or dataclass field
`GetAttrKey(name)`, and a child of a node registered without keys `FlattenedIndexKey(i)`.
"""
import collections
import dataclasses
import typing

from tinyjax.tree_util import (
    PyTreeDef, _node_children, _registry, flatten_up_to, register_pytree_node, tree_flatten,
    tree_map, tree_unflatten)

KeyEntry = typing.TypeVar('KeyEntry')
KeyPath = typing.Tuple[KeyEntry, ...]
_key_flatteners = {}    # node type -> flatten_with_keys, for types registered with keys


def _key_class(name, field, show):
    """A frozen dataclass with one field whose str is show(value)."""
    cls = dataclasses.make_dataclass(name, [(field, typing.Any)], frozen=True, namespace={
        '__str__': lambda self: show(getattr(self, field))})
    cls.__module__ = __name__
    return cls


SequenceKey = _key_class('SequenceKey', 'idx', lambda v: f'[{v!r}]')
DictKey = _key_class('DictKey', 'key', lambda v: f'[{v!r}]')
GetAttrKey = _key_class('GetAttrKey', 'name', lambda v: f'.{v}')
FlattenedIndexKey = _key_class('FlattenedIndexKey', 'key', lambda v: f'[<flat index {v}>]')


def _key_value(k):
    return getattr(k, dataclasses.fields(k)[0].name)


def keystr(keys, *, simple=False, separator=''):
    """A path as text: "['a'][0].b", or with simple=True the bare keys joined by separator."""
    if simple:
        return separator.join(str(_key_value(k)) for k in keys)
    return separator.join(str(k) for k in keys)


def _child_keys(x, kind, aux, children):
    if kind in ('tuple', 'list'):
        return [SequenceKey(i) for i in range(len(children))]
    if kind == 'dict':
        return [DictKey(k) for k in aux[1]]
    if kind == 'namedtuple':
        return [GetAttrKey(f) for f in aux._fields]
    if kind in _key_flatteners:
        return [k for k, _ in _key_flatteners[kind](x)[0]]
    return [FlattenedIndexKey(i) for i in range(len(children))]


def tree_flatten_with_path(tree, is_leaf=None, is_leaf_takes_path=False):
    """([(key path, leaf), ...], treedef); the treedef is tree_flatten's."""
    pairs = []

    def go(x, path):
        node = None
        if is_leaf is None or not (is_leaf(path, x) if is_leaf_takes_path else is_leaf(x)):
            node = _node_children(x)
        if node is None:
            pairs.append((path, x))
            return PyTreeDef('leaf', None, ())
        kind, aux, children = node
        keys = _child_keys(x, kind, aux, children)
        return PyTreeDef(kind, aux, [go(c, path + (k,)) for k, c in zip(keys, children)])
    treedef = go(tree, ())
    del go     # the self-calling closure is a cycle holding the leaves (tree_util._flatten)
    return pairs, treedef


def tree_leaves_with_path(tree, is_leaf=None, is_leaf_takes_path=False):
    return tree_flatten_with_path(tree, is_leaf, is_leaf_takes_path)[0]


def tree_map_with_path(f, tree, *rest, is_leaf=None, is_leaf_takes_path=False):
    """f(path, leaf, *matching leaves of rest) for every leaf of tree."""
    pairs, treedef = tree_flatten_with_path(tree, is_leaf, is_leaf_takes_path)
    others = [flatten_up_to(treedef, r) for r in rest]
    return tree_unflatten(treedef, [f(p, x, *xs) for (p, x), *xs in zip(pairs, *others)])


def tree_broadcast(prefix_tree, full_tree, is_leaf=None):
    """prefix_tree with each leaf repeated over the matching subtree of full_tree."""
    leaves, prefix_def = tree_flatten(prefix_tree, is_leaf)
    subtrees = flatten_up_to(prefix_def, full_tree)
    return tree_unflatten(prefix_def, [tree_map(lambda _, v=v: v, sub, is_leaf=is_leaf)
                                       for v, sub in zip(leaves, subtrees)])


def treedef_children(treedef):
    return list(treedef.children)


def treedef_tuple(treedefs):
    return PyTreeDef('tuple', None, list(treedefs))


def is_tree_node(typ):
    """Whether values of type `typ` are pytree nodes (None's type included)."""
    return (typ in (tuple, list, dict, collections.OrderedDict, collections.defaultdict,
                    type(None)) or typ in _registry
            or (isinstance(typ, type) and issubclass(typ, tuple) and hasattr(typ, '_fields')))


def _one_level(tree):
    node = _node_children(tree)
    if node is None:
        raise ValueError(f"can't tree-flatten type: {type(tree)}")
    kind, aux, children = node
    data = aux[1] if kind == 'dict' else aux
    return kind, aux, children, data


def flatten_one_level(tree):
    """(children, node data) of the root; a leaf raises ValueError."""
    _, _, children, data = _one_level(tree)
    return tuple(children), data


def flatten_one_level_with_keys(tree):
    kind, aux, children, data = _one_level(tree)
    return list(zip(_child_keys(tree, kind, aux, children), children)), data


def register_pytree_with_keys(nodetype, flatten_with_keys, unflatten_func, flatten_func=None):
    """flatten_with_keys(x) -> ([(key, child), ...], aux_data)."""
    if flatten_func is None:
        def flatten_func(x):
            pairs, aux = flatten_with_keys(x)
            return [c for _, c in pairs], aux
    register_pytree_node(nodetype, flatten_func, unflatten_func)
    _key_flatteners[nodetype] = flatten_with_keys


def register_pytree_with_keys_class(cls):
    flatten = getattr(cls, 'tree_flatten', None)
    register_pytree_with_keys(cls, lambda x: x.tree_flatten_with_keys(), cls.tree_unflatten,
                              None if flatten is None else (lambda x: x.tree_flatten()))
    return cls


def register_dataclass(nodetype, data_fields=None, meta_fields=None, drop_fields=()):
    """Fields in data_fields are children (keyed GetAttrKey(name)); meta_fields are static
    node data. For a dataclass both default to its init fields, those whose metadata has
    static=True being meta."""
    if data_fields is None or meta_fields is None:
        if not dataclasses.is_dataclass(nodetype):
            raise TypeError('register_dataclass: data_fields and meta_fields are required when '
                            f'nodetype is not a dataclass. Got nodetype={nodetype!r}.')
        if (data_fields is None) != (meta_fields is None):
            raise TypeError('register_dataclass: data_fields and meta_fields must both be '
                            'specified when either is specified.')
        fields = [f for f in dataclasses.fields(nodetype) if f.init and f.name not in drop_fields]
        meta_fields = [f.name for f in fields if f.metadata.get('static', False)]
        data_fields = [f.name for f in fields if not f.metadata.get('static', False)]
    elif dataclasses.is_dataclass(nodetype):
        init = {f.name for f in dataclasses.fields(nodetype) if f.init}
        given = set(data_fields) | set(meta_fields) | set(drop_fields)
        if init != given:
            raise ValueError('data_fields, meta_fields and drop_fields must cover the init '
                             f'fields of {nodetype.__name__} exactly: missing '
                             f'{sorted(init - given)}, unexpected {sorted(given - init)}')
    data_fields, meta_fields = tuple(data_fields), tuple(meta_fields)

    def flatten_with_keys(x):
        return ([(GetAttrKey(n), getattr(x, n)) for n in data_fields],
                tuple(getattr(x, n) for n in meta_fields))

    def unflatten(aux, children):
        return nodetype(**dict(zip(meta_fields, aux)), **dict(zip(data_fields, children)))

    def flatten(x):
        return [getattr(x, n) for n in data_fields], tuple(getattr(x, n) for n in meta_fields)
    register_pytree_with_keys(nodetype, flatten_with_keys, unflatten, flatten)
    return nodetype


def register_static(cls):
    """Values of cls become childless nodes that carry themselves as static data."""
    register_pytree_node(cls, lambda x: ((), x), lambda aux, _: aux)
    return cls
