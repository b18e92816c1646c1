"""Primitives: named operations whose rules (shape, NumPy, derivative, batching, CUDA)
are attached by the module in `tinyjax/ops/` that defines them."""
from tinyjax.core.trace import bind


class Primitive:
    """An operation the tracer records. Rules are filled in by `ops/`:

    abstract_eval(*avals, **params) -> aval or list of avals   (shape/dtype rule)
    impl(xp, *buffers, **params) -> buffer(s)                   (NumPy/CuPy, via `xp`)
    jvp(primals, tangents, **params) -> (primal_outs, tangent_outs)   (tangent None = zero)
    transpose(cts, *args, **params) -> cotangent per arg (None where not linear)
    batch(args, dims, **params) -> (outs, out_dims)
    lowering: how the compiler generates it (a kind from compiler/lowering.py), or None
    simplify(out, ins, params, defs) -> atom | Eqn | None: an algebraic rewrite the
        compiler applies before fusion (x*1 -> x, transpose of transpose, ...)
    eager(*arrays, **params) -> array(s): used instead of impl by primitives that hold a
        graph (custom rules, checkpoint): they run the graph on arrays, not buffers.
    prepare(xp, *avals, **params) -> fn(*buffers) -> buffer: optional, impl specialised
        to fixed operand avals; a compiled Program builds it once and calls it on every
        run. Anything that has .shape, .ndim and .dtype serves as an aval (the eager rule
        may pass the buffers themselves). The result must be a new buffer of the
        output's dtype and shape.
    """

    def __init__(self, name, multiple_results=False):
        self.name = name
        self.multiple_results = multiple_results
        self.abstract_eval = None
        self.impl = None
        self.jvp = None
        self.transpose = None
        self.batch = None
        self.lowering = None
        self.eager = None
        self.prepare = None
        self.simplify = None     # the compiler's local rewrite (compiler/passes.py: simplify)
        self.effectful = False
        # Parameters the jaxpr printer leaves out when None (dot_general's precision, as
        # JAX prints it).
        self.quiet_params = ()

    def bind(self, *args, **params):
        return bind(self, args, params)

    def __repr__(self):
        return self.name


registry = {}


def primitive(name, multiple_results=False):
    p = Primitive(name, multiple_results)
    if name in registry:
        raise ValueError(f'primitive {name} defined twice')
    registry[name] = p
    return p
