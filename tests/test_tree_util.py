"""tinyjax.tree_util against JAX's behaviour (expected values taken from JAX 0.10.2)."""
import collections
import gc
import weakref

import numpy as np
import pytest

import tinyjax
from tinyjax import tree_util as tu

Point = collections.namedtuple('Point', 'a b')


class Box:
    """A custom node: one child, the tag is metadata (aux data)."""

    def __init__(self, v, tag):
        self.v, self.tag = v, tag

    def __eq__(self, other):
        return isinstance(other, Box) and (self.v, self.tag) == (other.v, other.tag)


tu.register_pytree_node(Box, lambda b: ((b.v,), b.tag), lambda tag, ch: Box(ch[0], tag))


@tu.register_pytree_node_class
class Pair:
    def __init__(self, a, b):
        self.a, self.b = a, b

    def tree_flatten(self):
        return (self.a, self.b), None

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(*children)


TREES = [
    1,
    (1, 2),
    [1, [2, (3,)]],
    {'b': 1, 'a': (2, 3)},
    {'x': None, 'y': [None, 4]},
    Point(1, (2, 3)),
    collections.OrderedDict([('b', 1), ('a', 2)]),
    Box({'z': 1, 'a': 2}, 'tag'),
    [(), [], {}, None],
]


@pytest.mark.parametrize('tree', TREES, ids=range(len(TREES)))
def test_flatten_unflatten_roundtrip(tree):
    leaves, treedef = tu.tree_flatten(tree)
    assert tu.tree_unflatten(treedef, leaves) == tree
    assert treedef.num_leaves == len(leaves)
    assert tu.tree_structure(tree) == treedef
    assert tu.tree_leaves(tree) == leaves
    assert treedef.unflatten(leaves) == tree


@pytest.mark.parametrize('tree', TREES, ids=range(len(TREES)))
def test_tree_map_identity_and_add(tree):
    assert tu.tree_map(lambda x: x, tree) == tree
    doubled = tu.tree_map(lambda x: x * 2, tree)
    assert tu.tree_leaves(doubled) == [2 * x for x in tu.tree_leaves(tree)]
    assert tu.tree_structure(doubled) == tu.tree_structure(tree)
    summed = tu.tree_map(lambda x, y: x + y, tree, doubled)
    assert tu.tree_leaves(summed) == [3 * x for x in tu.tree_leaves(tree)]


def test_dict_keys_sorted():
    tree = {'b': 1, 'a': 2, 'c': (3, [4, None])}
    assert tu.tree_leaves(tree) == [2, 1, 3, 4]
    assert list(tu.tree_map(lambda x: x, {'b': 1, 'a': 2})) == ['a', 'b']
    assert str(tu.tree_structure({'b': 1, 'a': (2, [3])})) == "PyTreeDef({'a': (*, [*]), 'b': *})"
    # An OrderedDict keeps its insertion order.
    assert tu.tree_leaves(collections.OrderedDict([('b', 1), ('a', 2)])) == [1, 2]
    assert tu.tree_structure(collections.OrderedDict(a=1)) != tu.tree_structure({'a': 1})
    dd = tu.tree_map(lambda x: x + 1, collections.defaultdict(list, {'b': 1, 'a': 2}))
    assert isinstance(dd, collections.defaultdict) and dd.default_factory is list
    assert list(dd.items()) == [('a', 3), ('b', 2)]


def test_unsortable_keys_raise():
    with pytest.raises(ValueError, match='sorting pytree dictionary keys'):
        tu.tree_leaves({1: 'a', 'b': 2})


def test_none_is_an_empty_node():
    assert tu.tree_leaves(None) == []
    assert tu.tree_leaves([None, 1]) == [1]
    assert tu.tree_map(lambda x: x + 1, [1, None, (2,)]) == [2, None, (3,)]
    assert str(tu.tree_structure({'a': None})) == "PyTreeDef({'a': None})"
    assert tu.treedef_is_leaf(tu.tree_structure(None))
    assert tu.treedef_is_leaf(tu.tree_structure(1))
    assert not tu.treedef_is_leaf(tu.tree_structure((1,)))
    # f may return None: it becomes an empty node in the output.
    out = tu.tree_map(lambda x: None, [1, 2])
    assert out == [None, None] and tu.tree_leaves(out) == []
    assert not tu.all_leaves([None]) and tu.all_leaves([1, 2]) and not tu.all_leaves([1, (2,)])


def test_counts():
    treedef = tu.tree_structure({'b': 1, 'a': (2, [3, None])})
    assert treedef.num_leaves == 3
    assert treedef.num_nodes == 7
    assert tu.tree_leaves(()) == tu.tree_leaves([]) == tu.tree_leaves({}) == []


def test_structures_compare_by_kind_and_metadata():
    assert tu.tree_structure([1, 2]) != tu.tree_structure((1, 2))
    assert tu.tree_structure({'a': 1}) != tu.tree_structure({'b': 1})
    assert tu.tree_structure(1) == tu.tree_structure('x')
    assert tu.tree_structure(Point(1, 2)) != tu.tree_structure((1, 2))
    assert tu.tree_structure(Box(1, 't')) != tu.tree_structure(Box(1, 'u'))
    assert tu.tree_structure(Box(1, 't')) == tu.tree_structure(Box(5, 't'))
    assert hash(tu.tree_structure({'a': [1]})) == hash(tu.tree_structure({'a': [2]}))


def test_namedtuple():
    assert tu.tree_map(lambda x: x * 2, Point(1, (2, 3))) == Point(2, (4, 6))
    assert tu.tree_leaves(Point(b=1, a=2)) == [2, 1]     # field order, not keyword order


def test_custom_nodes():
    assert tu.tree_map(lambda x: x + 1, Box((1, 2), 't')) == Box((2, 3), 't')
    assert tu.tree_leaves([Box({'z': 1, 'a': 2}, 't'), 3]) == [2, 1, 3]
    p = tu.tree_map(lambda x: x * 10, Pair(1, 2))
    assert isinstance(p, Pair) and (p.a, p.b) == (10, 20)
    with pytest.raises(ValueError, match='Duplicate'):
        tu.register_pytree_node(Box, lambda b: ((b.v,), b.tag), lambda t, c: Box(c[0], t))


def test_registration_return_values_as_jax():
    # JAX 0.10.2: the plain registrations return None (a notebook cell ending in one shows
    # nothing); the class forms and register_dataclass/register_static return the class.
    import dataclasses

    class A:
        pass

    class B:
        pass

    @dataclasses.dataclass
    class D:
        x: int

    class E:
        pass
    assert tu.register_pytree_node(A, lambda x: ((), None), lambda a, c: A()) is None
    assert tu.register_pytree_with_keys(B, lambda x: ((), None), lambda a, c: B()) is None
    assert tu.register_dataclass(D) is D
    assert tu.register_static(E) is E
    assert tu.register_pytree_with_keys_class(KeyedBox) is KeyedBox


class KeyedBox:
    def __init__(self, v):
        self.v = v

    def tree_flatten_with_keys(self):
        return [(tu.GetAttrKey('v'), self.v)], None

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(*children)


def test_partial_is_a_pytree():
    f = tu.Partial(lambda a, b: a + b, 1)
    assert tu.tree_leaves(f) == [1]
    assert tu.tree_map(lambda x: x * 5, f)(2) == 7


def test_is_leaf():
    tree = [(1, 2), (3, 4)]
    is_tuple = lambda x: isinstance(x, tuple)  # noqa: E731
    assert tu.tree_leaves(tree, is_leaf=is_tuple) == [(1, 2), (3, 4)]
    assert tu.tree_map(len, [(1, 2), (3,)], is_leaf=is_tuple) == [2, 1]


def test_tree_map_prefix_trees():
    # The first tree may be a prefix of the others: its leaf matches a whole subtree.
    out = tu.tree_map(lambda x, y: (x, y), {'a': 1, 'b': 2}, {'a': [1, 2], 'b': (3,)})
    assert out == {'a': (1, [1, 2]), 'b': (2, (3,))}
    assert tu.tree_map(lambda x, y: (x, y), [1], [None]) == [(1, None)]
    assert tu.tree_structure([0, 0]).flatten_up_to([(1, 2), {'a': 3}]) == [(1, 2), {'a': 3}]


@pytest.mark.parametrize('a, b', [
    ([1, 2], (1, 2)),              # different node types
    ([1, 2], [1, 2, 3]),           # different lengths
    ({'a': 1}, {'b': 1}),          # different keys
    ([None], [1]),                 # None is a node, not a leaf
    (Point(1, 2), (1, 2)),         # namedtuple vs tuple
    (Box(1, 't'), Box(1, 'u')),    # different aux data
    ((1, (2, 3)), (1, 2)),         # the second tree is not deep enough
])
def test_mismatched_structures_raise(a, b):
    with pytest.raises(ValueError):
        tu.tree_map(lambda x, y: x, a, b)


def test_unflatten_wrong_leaf_count():
    treedef = tu.tree_structure((1, 2))
    with pytest.raises(ValueError, match='Too few leaves'):
        tu.tree_unflatten(treedef, [7])
    with pytest.raises(ValueError, match='Too many leaves'):
        tu.tree_unflatten(treedef, [7, 8, 9])
    assert tu.tree_unflatten(tu.tree_structure((1, {'x': 2, 'a': 3})), [7, 8, 9]) == \
        (7, {'a': 8, 'x': 9})


def test_transpose_reduce_all():
    outer, inner = tu.tree_structure([0, 0]), tu.tree_structure((0, 0))
    assert tu.tree_transpose(outer, inner, [(1, 2), (3, 4)]) == ([1, 3], [2, 4])
    assert tu.tree_reduce(lambda a, b: a + b, [1, (2, 3)]) == 6
    assert tu.tree_reduce(lambda a, b: a + b, [], 5) == 5
    assert tu.tree_all([1, (True, 2)]) and not tu.tree_all([1, 0])


def test_arrays_are_leaves():
    import tinyjax.numpy as jnp
    params = {'w': jnp.ones((2, 3)), 'b': jnp.zeros(3), 'meta': None}
    leaves = tinyjax.tree_leaves(params)
    assert len(leaves) == 2 and all(isinstance(x, tinyjax.Array) for x in leaves)
    out = tinyjax.tree_map(lambda x: x * 2, params)
    assert out['meta'] is None
    np.testing.assert_array_equal(np.asarray(out['w']), 2 * np.ones((2, 3), np.float32))


def test_tree_module_short_names():
    tree = {'b': [1, 2], 'a': 3}
    assert tinyjax.tree.map(lambda x: x + 1, tree) == {'a': 4, 'b': [2, 3]}
    assert tinyjax.tree.leaves(tree) == [3, 1, 2]
    leaves, treedef = tinyjax.tree.flatten(tree)
    assert tinyjax.tree.structure(tree) == treedef
    assert tinyjax.tree.unflatten(treedef, leaves) == tree
    assert tinyjax.tree.reduce(lambda a, b: a + b, tree) == 6
    assert tinyjax.tree.all(tree)


def test_flatten_and_unflatten_leave_no_reference_cycle():
    # A leaf must be freed as soon as its last reference goes: a recursive closure in
    # flatten kept block_until_ready(f(x))'s outputs alive until the cyclic GC ran, and
    # every call of a jitted function then faulted in fresh pages for its buffers.
    tree = {'a': [np.ones(3), (np.zeros(2), None)], 'b': Point(np.ones(1), np.ones(2))}
    gc.collect()
    gc.disable()
    try:
        leaves, treedef = tu.tree_flatten(tree)
        again = tu.tree_unflatten(treedef, leaves)
        tu.tree_map(lambda a, b: a, tree, again)
        tu.tree_flatten_with_path(tree)
        refs = [weakref.ref(leaf) for leaf in leaves if leaf is not None]
        tinyjax.block_until_ready(tree)
        out = tinyjax.vmap(lambda v: v['a'] * 2, in_axes=({'a': 0},))({'a': np.ones((2, 3))})
        refs.append(weakref.ref(out))      # vmap's axes prefix walk held its outputs
        del tree, leaves, again, out
        assert [r() for r in refs] == [None] * len(refs)
    finally:
        gc.enable()
