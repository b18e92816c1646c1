"""The IR and tracing. Also `jax.core`'s public names, for code written against JAX's
jaxpr object model (custom interpreters): `eval_jaxpr`, `ClosedJaxpr`, `Literal`, ..."""
from tinyjax.core.ir import (  # noqa: F401
    ClosedJaxpr, Eqn as JaxprEqn, Jaxpr, Literal, ShapedArray, Var)
from tinyjax.core.primitive import Primitive  # noqa: F401
from tinyjax.core.trace import Tracer, eval_jaxpr, jaxpr_as_fun  # noqa: F401
