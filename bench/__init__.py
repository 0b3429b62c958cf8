"""Benchmarks of ockam_py's portal paths against direct TCP, socat chains and ssh -R.

Run ``python3 -m bench`` (about 5 minutes) or ``python3 -m bench --quick``
(about a minute). Results go to ``bench/results/``.
"""
