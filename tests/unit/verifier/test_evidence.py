"""The evidence seam: formats recognised by content, each bundle with where it came from."""

from __future__ import annotations

import json

import pytest

from tests.support.virtual_sigstore import VirtualSigstore
from verifier import DEFAULT_LIMITS, InputError, Reason
from verifier._internal.evidence import SIGSTORE_BUNDLE, load_evidence


def test_a_plain_bundle_is_itself() -> None:
    data = json.dumps(VirtualSigstore("plain", with_tsa=False).sign_artifact(b"a")).encode()
    [evidence] = load_evidence(data)
    assert (evidence.format, evidence.location) == (SIGSTORE_BUNDLE, "")


def test_an_evidence_file_with_too_many_bundles_is_refused() -> None:
    """Counting before verifying: a JSON Lines file of many small bundles is input.too_large."""
    line = json.dumps(VirtualSigstore("cap", with_tsa=False).sign_artifact(b"a")).encode()
    limits = DEFAULT_LIMITS._replace(max_evidence_bundles=3)
    assert len(load_evidence(b"\n".join([line] * 3) + b"\n", limits)) == 3
    with pytest.raises(InputError) as info:
        load_evidence(b"\n".join([line] * 4) + b"\n", limits)
    assert info.value.reason is Reason.INPUT_TOO_LARGE


def test_an_oversized_file_is_refused_unread() -> None:
    with pytest.raises(InputError) as info:
        load_evidence(b" " * (DEFAULT_LIMITS.max_bundle_bytes + 1))
    assert info.value.reason is Reason.INPUT_TOO_LARGE
