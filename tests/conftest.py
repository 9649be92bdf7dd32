"""Hypothesis profiles and the `gpu` marker.

Profiles (pick with HYPOTHESIS_PROFILE=name or pytest's --hypothesis-profile=name):
  ci        the default: derandomized and without the example database (the same examples on every
            run and every machine, so a red CI is reproducible locally), no deadline (2-core CI
            machines are slow and noisy), 40 examples a test.
  dev       fresh random examples each run, 100 a test: for hunting new counterexamples.
  thorough  fresh random examples, 1000 a test (`make test-thorough`; minutes, not seconds).
"""

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=40,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=100, print_blob=True)
settings.register_profile(
    "thorough",
    deadline=None,
    max_examples=1000,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(config, items):
    gpu_items = [item for item in items if "gpu" in item.keywords]
    if not gpu_items:
        return
    from benchmarks.environment import gpu_missing  # one answer for the tests and the benchmarks

    reason = gpu_missing()
    if reason:
        for item in gpu_items:
            item.add_marker(pytest.mark.skip(reason=reason))
