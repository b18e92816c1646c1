"""Key paths and the keyed registrations of tinyjax.tree_util; the expected paths,
strings and structures are what JAX 0.10.2 gives for the same trees."""
import collections
import dataclasses

import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import tree_util as tu

P = collections.namedtuple('P', 'a b')


class Plain:
    def __init__(self, a):
        self.a = a


tu.register_pytree_node(Plain, lambda c: ((c.a, c.a), None), lambda aux, ch: Plain(ch[0]))


@tu.register_dataclass
@dataclasses.dataclass
class Layer:
    w: object
    b: object
    name: str = jax.tree.static(default='dense')


@tu.register_static
class Tag:
    pass


def test_paths_of_builtin_nodes():
    tree = {'x': [1, (2, None)], 'y': P(3, 4), 'z': collections.OrderedDict(b=5, a=6)}
    pairs, treedef = tu.tree_flatten_with_path(tree)
    assert treedef == tu.tree_structure(tree)
    assert [repr(p) for p, _ in pairs] == [
        "(DictKey(key='x'), SequenceKey(idx=0))",
        "(DictKey(key='x'), SequenceKey(idx=1), SequenceKey(idx=0))",
        "(DictKey(key='y'), GetAttrKey(name='a'))", "(DictKey(key='y'), GetAttrKey(name='b'))",
        "(DictKey(key='z'), DictKey(key='b'))", "(DictKey(key='z'), DictKey(key='a'))"]
    assert [tu.keystr(p) for p, _ in pairs] == [
        "['x'][0]", "['x'][1][0]", "['y'].a", "['y'].b", "['z']['b']", "['z']['a']"]
    assert [tu.keystr(p, simple=True, separator='/') for p, _ in pairs] == [
        'x/0', 'x/1/0', 'y/a', 'y/b', 'z/b', 'z/a']
    assert [leaf for _, leaf in pairs] == [1, 2, 3, 4, 5, 6]
    assert tu.tree_leaves_with_path(tree) == pairs


def test_key_classes():
    assert [str(k) for k in (tu.DictKey('a'), tu.SequenceKey(1), tu.GetAttrKey('b'),
                             tu.FlattenedIndexKey(2))] == ["['a']", '[1]', '.b', '[<flat index 2>]']
    assert tu.DictKey('a') == tu.DictKey('a') and hash(tu.SequenceKey(1)) == hash(tu.SequenceKey(1))
    assert tu.keystr((tu.GetAttrKey('a'), tu.SequenceKey(0), tu.DictKey(1))) == '.a[0][1]'
    assert tu.flatten_one_level({'a': 1, 'b': [2]}) == ((1, [2]), ('a', 'b'))
    assert tu.flatten_one_level(None) == ((), None)
    with pytest.raises(ValueError, match="can't tree-flatten type"):
        tu.flatten_one_level(1)


def test_custom_nodes_dataclass_and_static():
    assert tu.tree_flatten_with_path(Plain(1))[0] == [
        ((tu.FlattenedIndexKey(0),), 1), ((tu.FlattenedIndexKey(1),), 1)]
    layer = Layer(w=np.ones(2), b=3.0)
    pairs, treedef = tu.tree_flatten_with_path(layer)
    assert [p for p, _ in pairs] == [(tu.GetAttrKey('w'),), (tu.GetAttrKey('b'),)]
    back = tu.tree_unflatten(treedef, [10, 20])
    assert (back.w, back.b, back.name) == (10, 20, 'dense')
    # name is node data: changing it changes the structure (jit retraces on it).
    assert tu.tree_structure(Layer(1, 2, 'other')) != tu.tree_structure(Layer(1, 2))
    out = jax.jit(lambda m: m.w * m.b)(Layer(jnp.arange(3.0), 2.0))
    np.testing.assert_array_equal(out, [0.0, 2.0, 4.0])
    g = jax.grad(lambda m: jnp.sum(m.w * m.b))(Layer(jnp.arange(3.0), 2.0))
    np.testing.assert_array_equal(g.w, [2.0, 2.0, 2.0])
    assert float(g.b) == 3.0 and g.name == 'dense'
    with pytest.raises(TypeError, match='data_fields and meta_fields are required'):
        tu.register_dataclass(Plain)
    t = Tag()
    assert tu.tree_leaves([t, 1]) == [1]
    assert tu.tree_unflatten(tu.tree_structure([t, 1]), [5])[0] is t


def test_is_leaf_and_map_with_path():
    tree = [1, [2]]
    assert tu.tree_leaves_with_path(tree, is_leaf=lambda x: isinstance(x, list) and len(x) == 1) \
        == [((tu.SequenceKey(0),), 1), ((tu.SequenceKey(1),), [2])]
    assert tu.tree_leaves_with_path(tree, is_leaf=lambda p, x: len(p) == 1,
                                    is_leaf_takes_path=True) \
        == [((tu.SequenceKey(0),), 1), ((tu.SequenceKey(1),), [2])]
    assert tu.tree_map_with_path(lambda p, a, b: (tu.keystr(p), a + b), [1, 2], [10, 20]) \
        == [('[0]', 11), ('[1]', 22)]
    # Under vmap the same function runs per example.
    params = {'w': jnp.ones((3, 2)), 'b': jnp.zeros((3,))}
    out = jax.vmap(lambda d: tu.tree_map_with_path(
        lambda p, v: v.sum() * (2.0 if tu.keystr(p) == "['w']" else 1.0), d))(params)
    np.testing.assert_array_equal(out['w'], [4.0, 4.0, 4.0])
    np.testing.assert_array_equal(out['b'], [0.0, 0.0, 0.0])


def test_treedef_helpers_broadcast_and_reduce():
    tree = {'x': [1, (2, None)], 'y': P(3, 4)}
    kids = tu.treedef_children(tu.tree_structure(tree))
    assert kids == [tu.tree_structure([1, (2, None)]), tu.tree_structure(P(3, 4))]
    assert tu.treedef_children(tu.tree_structure(1)) == []
    t = tu.treedef_tuple([tu.tree_structure(1), tu.tree_structure([1, 2])])
    assert t == tu.tree_structure((1, [1, 2]))
    assert tu.tree_broadcast([1, {'a': 2}], [(1, 2), {'a': [3, 4]}]) == [(1, 1), {'a': [2, 2]}]
    with pytest.raises(ValueError):
        tu.tree_broadcast([1, 2], [1])
    assert [tu.is_tree_node(t) for t in (int, type(None), list, tuple, dict, P, Layer)] == \
        [False, True, True, True, True, True, True]
    assert tu.tree_reduce_associative(lambda a, b: a + b, [1, 2, 3]) == 6
    assert jax.tree.reduce_associative(lambda a, b: a + b, [], identity=0) == 0
    with pytest.raises(TypeError, match='Must specify identity'):
        tu.tree_reduce_associative(lambda a, b: a + b, [])
    assert jax.tree.map_with_path(lambda p, v: len(p), {'a': [1]}) == {'a': [2]}
