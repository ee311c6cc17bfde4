"""End-to-end latency benchmark: phantom-pipeline against the alternatives a user would pick.

``pycommon`` and ``pysystems`` are the Python comparison systems: the same work as the
pipeline (PubSub feed, pool assembly, two-pool arbitrage, signed transaction) written the
way a Python user would write it, in one process or three.
"""
