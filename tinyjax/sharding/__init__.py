"""jax.sharding: meshes, partition specs, shardings (specs.py) and the arrays laid out
by them (arrays.py). auto_axes and explicit_axes (ops/layout.py, a layer above) are added
by tinyjax/__init__.py."""
from tinyjax.sharding.specs import (  # noqa: F401
    AbstractMesh, AxisType, Mesh, NamedSharding, P, PartitionSpec, Sharding,
    SingleDeviceSharding, get_abstract_mesh, get_mesh, make_mesh, set_mesh, use_abstract_mesh,
    use_mesh)
from tinyjax.sharding.arrays import GlobalArray, Shard, reshard  # noqa: F401
from tinyjax.sharding import single_device  # noqa: F401,E402  (Array.sharding)
