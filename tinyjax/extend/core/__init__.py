"""jax.extend.core: the jaxpr object model (tinyjax's own IR under JAX's names) and
Primitive, for custom interpreters and new primitives."""
from tinyjax.core.ir import (  # noqa: F401
    ClosedJaxpr, Eqn as JaxprEqn, Jaxpr, Literal, Var)
from tinyjax.core.primitive import Primitive  # noqa: F401
from tinyjax.core.trace import eval_jaxpr, jaxpr_as_fun  # noqa: F401
from tinyjax.extend.core import primitives  # noqa: F401


def new_jaxpr_eqn(invars, outvars, primitive, params, effects=None, source_info=None, ctx=None):
    """An equation, in JAX's argument order (effects follow from the primitive)."""
    return JaxprEqn(primitive, invars, params, outvars)
