"""The interpreter machinery the primitives' rules and the transforms share: JVP, partial
evaluation and transposition (`ad`), batching and the vmap axis frames (`batching`), the
same on graphs carried by control flow (`carried_graphs`), and the few array operations
they perform themselves (`base_ops`). Imports only `tinyjax.core`; `tinyjax.ops` imports it."""
