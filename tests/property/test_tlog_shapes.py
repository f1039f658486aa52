"""Property: valid entries verify at every tree shape, and the verifier's Merkle code agrees.

Entries are logged at random positions (random leaves before and after them) in the Rekor v1
and v2 logs of one VirtualSigstore, so proofs of every length and left/right pattern occur,
including the last leaf, power-of-two sizes and (via a fresh instance) a one-leaf tree.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.virtual_sigstore import Faults, VirtualSigstore
from tests.verify._harness import ARTIFACT, Inv, run_inv

pytestmark = [pytest.mark.slow]  # hypothesis-heavy: builds and verifies whole logs per example

_STATE: dict[str, Any] = {}


def _vs() -> VirtualSigstore:
    if "vs" not in _STATE:
        _STATE["vs"] = VirtualSigstore("shapes")
        _STATE["tr"] = _STATE["vs"].trusted_root()
        _STATE["tsa"] = _STATE["vs"].tsa_available()
    return _STATE["vs"]


def _run(bundle: dict, tr: dict) -> Any:
    with tempfile.TemporaryDirectory(prefix="airseal-shapes-") as d:
        return run_inv(Inv(bundle, tr), Path(d))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=st.integers(0, 40), after=st.integers(0, 9), dsse=st.booleans())
def test_rekor_v1_entries_verify_at_any_position(before: int, after: int, dsse: bool) -> None:
    vs = _vs()
    vs.rekor_v1.seed(before)
    f = Faults(trailing_leaves=after)
    b = vs.attest(ARTIFACT, faults=f) if dsse else vs.sign_artifact(ARTIFACT, faults=f)
    out = _run(b, _STATE["tr"])
    assert out.exit_code == 0, out.describe()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=st.integers(0, 40), after=st.integers(0, 9), log=st.sampled_from(["v2", "v2-ecdsa"]))
def test_rekor_v2_entries_verify_at_any_position(before: int, after: int, log: str) -> None:
    vs = _vs()
    if not _STATE["tsa"]:
        return
    vs.log_for(log).seed(before)
    b = vs.sign_artifact(ARTIFACT, log=log, tsa=True, faults=Faults(trailing_leaves=after))
    out = _run(b, _STATE["tr"])
    assert out.exit_code == 0, out.describe()


def test_one_leaf_trees_verify() -> None:
    fresh = VirtualSigstore("one-leaf", log_seed=0)
    tr = fresh.trusted_root()
    b = fresh.sign_artifact(ARTIFACT, faults=Faults(trailing_leaves=0))
    assert b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["hashes"] == []
    out = _run(b, tr)
    assert out.exit_code == 0, out.describe()
    if fresh.tsa_available():
        b2 = fresh.sign_artifact(ARTIFACT, log="v2", tsa=True, faults=Faults(trailing_leaves=0))
        assert b2["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["treeSize"] == "1"
        out = _run(b2, tr)
        assert out.exit_code == 0, out.describe()
