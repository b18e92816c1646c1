"""tinyjax.example_libraries: JAX's small example libraries, stax (neural-net layers as
(init_fun, apply_fun) pairs) and optimizers ((init, update, get_params) triples), with
JAX's API and numerics, so programs written against jax.example_libraries run unchanged."""
