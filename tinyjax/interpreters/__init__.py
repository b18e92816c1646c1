"""The interpreter machinery the primitives' rules and the transforms share: JVP, partial
evaluation and transposition (`ad`), batching, the vmap axis frames and the batching
rule builders (`batching`), the same on graphs carried by control flow
(`carried_graphs`), and the interpreters' own zero and add (`base_ops`). Imports only
`tinyjax.core`; `tinyjax.ops` imports it."""
