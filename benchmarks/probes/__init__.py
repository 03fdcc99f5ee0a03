"""Scripts that benchmark sections run in a subprocess (``python -m benchmarks.probes.<name>``).

A subprocess keeps measurements honest (its own memory, its own imports) and keeps the user's
database out of reach: each probe gets its database from the environment the section gives it.
"""
