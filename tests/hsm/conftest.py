"""Fixtures for the hsm tests; the machinery and the reasons behind it are in softhsm_support."""

from tests.hsm.softhsm_support import _module_softhsm, shared_softhsm, softhsm  # noqa: F401  (re-exported fixtures)
