"""Which device-grid axes a value may differ along (JAX's "varying manual axes").

Inside shard_map every argument varies along the mesh axes its in_specs name. A value
computed from others varies along the union of theirs, except where a primitive says
otherwise with a `varying(in_axes, **params) -> out_axes` rule: psum over 'x' gives the
same value on every member of 'x' (it removes 'x'), axis_index('x') differs along 'x'
(it adds it), and control flow runs its carried graphs through this analysis. shard_map
uses it to check that an output whose out_specs omit an axis really is replicated along it.
"""
from tinyjax.core.ir import Graph, Var


def varying_axes(graph, in_axes):
    """For each output of graph, the set of axes it varies along, given each input's."""
    env = {v: frozenset(a) for v, a in zip(graph.invars, in_axes)}

    def axes(a):
        return env.get(a, frozenset()) if isinstance(a, Var) else frozenset()

    for e in graph.eqns:
        ins = [axes(a) for a in e.inputs]
        rule = getattr(e.prim, 'varying', None)
        if rule is not None:
            outs = rule(ins, **e.params)
        else:
            inner = e.params.get('graph')
            if isinstance(inner, Graph) and len(inner.invars) == len(ins):
                outs = varying_axes(inner, ins)     # custom_jvp/vjp calls, checkpoint
            else:
                outs = [frozenset().union(*ins)] * len(e.outputs)
        for v, o in zip(e.outputs, outs):
            env[v] = frozenset(o)
    return [axes(a) for a in graph.outvars]


def carried_fixed_point(body, fixed, carry, rest):
    """Axes of a loop's outputs: `body` maps (fixed, carry, rest) inputs to (carry, other)
    outputs; the carry's axes grow until they stop changing."""
    carry = list(carry)
    while True:
        outs = varying_axes(body, list(fixed) + carry + list(rest))
        grown = [c | o for c, o in zip(carry, outs[:len(carry)])]
        if grown == carry:
            return outs[:len(carry)], outs[len(carry):]
        carry = grown
