"""Small programs that show tinyjax at work; run one with `python -m tinyjax.examples.NAME`."""
