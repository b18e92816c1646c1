"""The differentiation API: jvp, linearize, vjp, grad, value_and_grad, jacfwd, jacrev,
hessian. Each traces the function (with concrete values where known, so Python control
flow works outside jit) and hands the graph to the machinery in interpreters/ad.py."""
import functools

import numpy as np

from tinyjax import dtypes, lax, tree_util
from tinyjax.core import trace as core_trace
from tinyjax.core.ir import ShapedArray
from tinyjax.ops import common, elementwise
from tinyjax.interpreters import ad
from tinyjax.transforms.tracing import trace_to_graph, with_positions
from tinyjax.transforms.batching import vmap


def _leaf_aval(x, what):
    try:
        return common.aval_of(x)
    except Exception:
        raise TypeError(f'{what}: argument {x!r} of type {type(x).__name__} is not a valid '
                        'JAX type (arrays, scalars, and pytrees of them)') from None


def _zeros_for(aval):
    if dtypes.is_inexact(aval.dtype):
        return common.zeros(aval.strip_weak())
    return np.zeros(aval.shape, dtypes.float0)


def _trace_aux(fun, primals, has_aux):
    """Trace fun; returns (graph, flat primals, out_tree, aux_tree, n_out)."""
    holder = {}

    def wrapped(*args):
        res = fun(*args)
        if has_aux:
            if not (isinstance(res, (tuple, list)) and len(res) == 2):
                raise TypeError('has_aux=True requires the function to return a pair '
                                f'(output, auxiliary data), got {type(res).__name__}')
            out, aux = res
        else:
            out, aux = res, None
        out_leaves, holder['out'] = tree_util.tree_flatten(out)
        aux_leaves, holder['aux'] = tree_util.tree_flatten(aux)
        holder['n'] = len(out_leaves)
        return out_leaves + aux_leaves
    wrapped.__name__ = getattr(fun, '__name__', 'fun')
    flat, _ = tree_util.tree_flatten((primals, {}))
    for x in flat:
        _leaf_aval(x, 'vjp')
    flat = [core_trace.as_array(x) for x in flat]
    graph, _, _ = trace_to_graph(wrapped, primals, concrete=True)
    return graph, flat, holder['out'], holder['aux'], holder['n']


def vjp(fun, *primals, has_aux=False):
    graph, flat, out_tree, aux_tree, n = _trace_aux(fun, primals, has_aux)
    lin = ad.Linearized(graph, flat)
    outs = lin.primal_outs
    out = tree_util.tree_unflatten(out_tree, outs[:n])
    in_avals = graph.in_avals
    in_tree = tree_util.tree_structure(tuple(primals))

    def vjp_fn(ct):
        ct_leaves, ct_tree = tree_util.tree_flatten(ct)
        if ct_tree != out_tree:
            raise TypeError(f'vjp: the cotangent has tree structure {ct_tree} but the primal '
                            f'output has {out_tree}; pass a cotangent shaped like the output')
        for c, o in zip(ct_leaves, outs[:n]):
            ca, oa = common.aval_of(c), common.aval_of(o)
            if ca.shape != oa.shape:
                raise ValueError(f'vjp: cotangent shape {ca.shape} does not match the primal '
                                 f'output shape {oa.shape}')
        cts = [None if isinstance(c, np.ndarray) and c.dtype == dtypes.float0 else c
               for c in ct_leaves] + [None] * (len(outs) - n)
        grads = lin.vjp(cts)
        grads = [g if g is not None else _zeros_for(a) for g, a in zip(grads, in_avals)]
        return tuple(tree_util.tree_unflatten(in_tree, grads))

    if has_aux:
        return out, vjp_fn, tree_util.tree_unflatten(aux_tree, outs[n:])
    return out, vjp_fn


def jvp(fun, primals, tangents, has_aux=False):
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError('jvp: primal and tangent arguments must be tuples or lists, got '
                        f'{type(primals).__name__} and {type(tangents).__name__}')
    p_leaves, p_tree = tree_util.tree_flatten(tuple(primals))
    t_leaves, t_tree = tree_util.tree_flatten(tuple(tangents))
    if p_tree != t_tree:
        raise TypeError(f'jvp: primal and tangent arguments must have the same tree '
                        f'structure; got {p_tree} and {t_tree}')
    for p, t in zip(p_leaves, t_leaves):
        pa, ta = common.aval_of(p), common.aval_of(t)
        if pa.shape != ta.shape:
            raise ValueError(f'jvp: primal and tangent shapes differ: {pa.shape} and {ta.shape}')
        want = pa.dtype if dtypes.is_inexact(pa.dtype) else dtypes.float0
        if ta.dtype != want and not (dtypes.is_inexact(pa.dtype) and ta.weak_type):
            raise TypeError(f'jvp: primal and tangent dtypes do not match: primal '
                            f'{pa.dtype.name}, tangent {ta.dtype.name}; the tangent of an '
                            f'{pa.dtype.name} input must be {want.name}')
    graph, flat, out_tree, aux_tree, n = _trace_aux(fun, tuple(primals), has_aux)
    ts = [None if not dtypes.is_inexact(common.aval_of(p).dtype) else core_trace.as_array(t)
          for p, t in zip(p_leaves, t_leaves)]
    outs, touts = ad.jvp_eval(graph, flat, ts)
    touts = [t if t is not None else _zeros_for(common.aval_of(o)) for t, o in zip(touts, outs)]
    res = (tree_util.tree_unflatten(out_tree, outs[:n]), tree_util.tree_unflatten(out_tree, touts[:n]))
    if has_aux:
        return res + (tree_util.tree_unflatten(aux_tree, outs[n:]),)
    return res


def linearize(fun, *primals):
    graph, flat, out_tree, _, n = _trace_aux(fun, primals, False)
    lin = ad.Linearized(graph, flat)
    out = tree_util.tree_unflatten(out_tree, lin.primal_outs)

    def f_jvp(*tangents):
        t_leaves = tree_util.tree_leaves(tuple(tangents))
        touts = lin.jvp(t_leaves)
        touts = [t if t is not None else _zeros_for(a) for t, a in zip(touts, lin.out_avals)]
        return tree_util.tree_unflatten(out_tree, touts)
    return out, f_jvp


def _check_argnums(argnums, nargs, name):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for a in nums:
        if not isinstance(a, int):
            raise TypeError(f'{name}: argnums must be an int or a tuple of ints, got {argnums!r}')
        if not -nargs <= a < nargs:
            raise TypeError(f'{name}: differentiating with respect to argnums={argnums} requires '
                            f'at least {max(a, -a - 1) + 1} positional arguments to be passed '
                            f'by the caller, but got only {nargs} positional arguments.')
    return tuple(a % nargs for a in nums)


def _check_inputs(args, allow_int, name, holomorphic):
    """JAX's input rules: holomorphic=True takes complex inputs only; jacfwd otherwise
    real floats only (a complex input has no real basis to push); grad and jacrev take
    real or complex inputs, and integers with allow_int."""
    for x in tree_util.tree_leaves(args):
        dt = _leaf_aval(x, name).dtype
        if holomorphic:
            if not dtypes.is_complex(dt):
                raise TypeError(f'{name} with holomorphic=True requires inputs with complex '
                                f'dtype, but got {dt.name}.')
        elif name == 'jacfwd' and not dtypes.is_float(dt):
            raise TypeError(f'jacfwd requires real-valued inputs (input dtype that is a '
                            f'sub-dtype of np.floating), but got {dt.name}. For holomorphic '
                            'differentiation, pass holomorphic=True. For differentiation of '
                            'non-holomorphic functions involving complex inputs or integer '
                            'inputs, use jax.jvp directly.')
        elif not dtypes.is_inexact(dt) and not allow_int:
            raise TypeError(f'{name} requires real- or complex-valued inputs (input dtype that '
                            f'is a sub-dtype of np.inexact), but got {dt.name}. If you want '
                            'to use Boolean- or integer-valued inputs, use vjp or set allow_int '
                            'to True.')


def _check_outputs(outs, name, holomorphic):
    """grad and jacrev (and jacfwd with holomorphic=True) differentiate real outputs, or
    complex ones with holomorphic=True, as in JAX."""
    for o in outs:
        dt = common.aval_of(o).dtype
        if holomorphic:
            if not dtypes.is_complex(dt):
                raise TypeError(f'{name} with holomorphic=True requires outputs with complex '
                                f'dtype, but got {dt.name}.')
        elif not dtypes.is_float(dt):
            hint = ('For holomorphic differentiation, pass holomorphic=True. For '
                    'differentiation of non-holomorphic functions involving complex outputs, '
                    'use jax.vjp directly.') if dtypes.is_complex(dt) else (
                'For differentiation of functions with integer outputs, use jax.vjp directly.')
            raise TypeError(f'{name} requires real-valued outputs (output dtype that is a '
                            f'sub-dtype of np.floating), but got {dt.name}. {hint}')


def _split_argnums(fun, argnums, args, kwargs, allow_int, name, holomorphic=False):
    """The differentiated arguments, and fun as a function of them alone."""
    nums = _check_argnums(argnums, len(args), name)
    dyn = tuple(args[i] for i in nums)
    _check_inputs(dyn, allow_int, name, holomorphic)

    return with_positions(fun, args, nums, kwargs), dyn


def value_and_grad(fun, argnums=0, has_aux=False, holomorphic=False, allow_int=False,
                   reduce_axes=()):
    @functools.wraps(fun)
    def value_and_grad_f(*args, **kwargs):
        partial, dyn = _split_argnums(fun, argnums, args, kwargs, allow_int, 'grad', holomorphic)
        res = vjp(partial, *dyn, has_aux=has_aux)
        out, vjp_fn = res[0], res[1]
        leaves = tree_util.tree_leaves(out)
        if len(leaves) != 1 or common.aval_of(leaves[0]).shape != ():
            shape = common.aval_of(leaves[0]).shape if len(leaves) == 1 else \
                f'a pytree with {len(leaves)} leaves'
            raise TypeError(f'Gradient only defined for scalar-output functions. Output had '
                            f'shape: {shape}. Reduce the output (e.g. jnp.sum) or use jacrev/vjp.')
        oa = common.aval_of(leaves[0])
        _check_outputs(leaves, 'grad', holomorphic)
        ct = tree_util.tree_unflatten(tree_util.tree_structure(out),
                                      [common.full((), 1, oa.dtype)])
        g = vjp_fn(ct)
        g = _match_input_types(g, dyn, holomorphic)
        g = g[0] if isinstance(argnums, int) else g
        return ((out, res[2]), g) if has_aux else (out, g)
    return value_and_grad_f


def _match_input_types(grads, inputs, holomorphic=False):
    """Gradients keep their input's dtype and weak type, as in JAX (except a complex
    input's gradient of a real output: it comes from transposing real/imag, strong)."""
    def fix(g, x):
        if isinstance(g, np.ndarray):
            return g
        xa, ga = common.aval_of(x), common.aval_of(g)
        if dtypes.is_complex(xa.dtype) and not holomorphic:
            return g
        if xa.weak_type and not ga.weak_type and ga.dtype == xa.dtype:
            return elementwise.convert(g, xa.dtype, weak_type=True)
        return g
    return tree_util.tree_map(fix, grads, inputs)


def grad(fun, argnums=0, has_aux=False, holomorphic=False, allow_int=False, reduce_axes=()):
    vg = value_and_grad(fun, argnums, has_aux, holomorphic, allow_int)

    @functools.wraps(fun)
    def grad_f(*args, **kwargs):
        out, g = vg(*args, **kwargs)
        return (g, out[1]) if has_aux else g
    return grad_f


def _std_basis(flat_avals):
    """Identity rows for the concatenation of all leaves: shape (total, *leaf shape) each."""
    sizes = [a.size for a in flat_avals]
    total = sum(sizes)
    dt = dtypes.promote_types(*[a.dtype for a in flat_avals]) if len(flat_avals) > 1 else flat_avals[0].dtype
    rows = lax.broadcasted_iota(dtypes.int32, (total, total), 0)
    cols = lax.broadcasted_iota(dtypes.int32, (total, total), 1)
    eye = lax.convert_element_type(lax.eq(lax.add(rows, common.scalar(0, np.int32)), cols), dt)
    out, start = [], 0
    for a, s in zip(flat_avals, sizes):
        piece = lax.slice_in_dim(eye, start, start + s, 1, 1)
        out.append(lax.convert_element_type(lax.reshape(piece, (total,) + a.shape), a.dtype))
        start += s
    return out, total


def jacfwd(fun, argnums=0, has_aux=False, holomorphic=False):

    def jacfun(*args, **kwargs):
        partial, dyn = _split_argnums(fun, argnums, args, kwargs, False, 'jacfwd', holomorphic)
        leaves, tree = tree_util.tree_flatten(dyn)
        avals = [common.aval_of(x) for x in leaves]
        basis, total = _std_basis(avals)

        def push(*b):
            return jvp(partial, dyn, tree_util.tree_unflatten(tree, list(b)), has_aux=has_aux)
        res = vmap(push, out_axes=(None, -1, None) if has_aux else (None, -1))(*basis)
        if holomorphic:
            _check_outputs(tree_util.tree_leaves(res[0]), 'jacfwd', True)
        jac = _split_jac(res[1], avals, tree, argnums, axis='last')
        return (jac, res[2]) if has_aux else jac
    return jacfun


def jacrev(fun, argnums=0, has_aux=False, holomorphic=False, allow_int=False):

    def jacfun(*args, **kwargs):
        partial, dyn = _split_argnums(fun, argnums, args, kwargs, allow_int, 'jacrev',
                                      holomorphic)
        res = vjp(partial, *dyn, has_aux=has_aux)
        out, vjp_fn = res[0], res[1]
        o_leaves, o_tree = tree_util.tree_flatten(out)
        _check_outputs(o_leaves, 'jacrev', holomorphic)
        o_avals = [common.aval_of(o) for o in o_leaves]
        basis, total = _std_basis(o_avals)
        cts = vmap(lambda *b: vjp_fn(tree_util.tree_unflatten(o_tree, list(b))))(*basis)
        # cts: per input leaf, shape (total, *in_shape); split rows by output leaf.
        in_leaves, in_tree = tree_util.tree_flatten(cts)
        in_avals = [common.aval_of(x) for x in tree_util.tree_leaves(dyn)]
        per_out = []
        start = 0
        for a in o_avals:
            rows = []
            for c, ia in zip(in_leaves, in_avals):
                if not dtypes.is_inexact(ia.dtype):
                    # An integer input (allow_int) gets zeros of its own dtype, not float0,
                    # as JAX's jacrev gives.
                    rows.append(common.zeros(ia.update(shape=a.shape + ia.shape)))
                    continue
                ca = common.aval_of(c)
                piece = lax.slice_in_dim(c, start, start + a.size, 1, 0)
                rows.append(piece.reshape(a.shape + ca.shape[1:]))
            per_out.append(tree_util.tree_unflatten(in_tree, rows))
            start += a.size
        outs = []
        for p in per_out:
            p = p[0] if isinstance(argnums, int) else p
            outs.append(p)
        jac = tree_util.tree_unflatten(o_tree, outs)
        return (jac, res[2]) if has_aux else jac
    return jacfun


def _split_jac(jac, in_avals, in_tree, argnums, axis):
    """jac: pytree over outputs of arrays (*out_shape, total); split the last axis by input."""
    def split(j):
        ja = common.aval_of(j)
        parts, start = [], 0
        for a in in_avals:
            piece = lax.slice_in_dim(j, start, start + a.size, 1, ja.ndim - 1)
            parts.append(piece.reshape(ja.shape[:-1] + a.shape))
            start += a.size
        t = tree_util.tree_unflatten(in_tree, parts)
        return t[0] if isinstance(argnums, int) else t
    return tree_util.tree_map(split, jac)


def hessian(fun, argnums=0, has_aux=False, holomorphic=False):
    return jacfwd(jacrev(fun, argnums, has_aux, holomorphic), argnums, has_aux, holomorphic)


def linear_transpose(fun, *primals, reduce_axes=()):
    """The transpose of a linear `fun`: a function from an output cotangent to the tuple
    of input cotangents. `primals` (arrays or ShapeDtypeStructs) give the input types."""
    leaves, in_tree = tree_util.tree_flatten(primals)
    in_avals = [ShapedArray(tuple(x.shape), dtypes.canonicalize(np.dtype(x.dtype)),
                            bool(getattr(x, 'weak_type', False)))
                if hasattr(x, 'shape') and not isinstance(x, np.ndarray) else
                _leaf_aval(x, 'linear_transpose') for x in leaves]

    def transposed(cotangent):
        zeros = tree_util.tree_unflatten(in_tree, [common.zeros(a) for a in in_avals])
        out, f_vjp = vjp(fun, *zeros)
        want = [common.aval_of(o).strip_weak() for o in tree_util.tree_leaves(out)]
        got_leaves, got_tree = tree_util.tree_flatten(cotangent)
        got = [_leaf_aval(c, 'linear_transpose').strip_weak() for c in got_leaves]
        if got_tree != tree_util.tree_structure(out) or got != want:
            raise TypeError(f'cotangent type does not match function output, expected '
                            f'{tree_util.tree_unflatten(tree_util.tree_structure(out), want)} '
                            f'but got {tree_util.tree_unflatten(got_tree, got)}')
        return f_vjp(cotangent)
    return transposed
