"""Development only, never in the wheel: the stand-in model, the fakes, the test sandbox.

The suite, the benchmarks and the demo import from here; nothing in
``hive_c0re``, ``hive_ag3nt`` or ``hive_m1nd`` does.
"""
