"""Numba solver templates.

These files are valid Python, but they are not imported directly: the code
generator (:mod:`gutskin.engine.codegen`) concatenates them, after removing the
lines marked ``# codegen: strip``, with the right-hand side generated from a
model spec into one kernel module, which numba compiles and caches on disk.
"""
