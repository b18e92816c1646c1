"""jax.sharding: meshes, partition specs, shardings (specs.py) and the arrays laid out
by them (arrays.py)."""
from tinyjax.sharding.specs import (  # noqa: F401
    AbstractMesh, AxisType, Mesh, NamedSharding, P, PartitionSpec, Sharding, SingleDeviceSharding, get_mesh,
    make_mesh, set_mesh, use_mesh)
from tinyjax.sharding.arrays import GlobalArray, Shard, reshard  # noqa: F401
from tinyjax.sharding import single_device  # noqa: F401,E402  (Array.sharding)
