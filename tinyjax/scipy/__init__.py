"""tinyjax.scipy: the parts of jax.scipy that tinyjax provides."""
from tinyjax.scipy import special  # noqa: F401
from tinyjax.scipy import linalg  # noqa: F401
from tinyjax.scipy import stats  # noqa: F401
from tinyjax.scipy import signal  # noqa: F401
