"""verifier._internal.keyio stands in for cryptography's serialization package: prove they are one."""

from __future__ import annotations

import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import serialization

from tests.conftest import REPO
from verifier._internal import keyio as _keyio


def test_the_fast_names_are_cryptographys_public_objects() -> None:
    assert _keyio.load_der_public_key is serialization.load_der_public_key
    assert _keyio.load_pem_public_key is serialization.load_pem_public_key
    assert _keyio.Encoding is serialization.Encoding
    assert _keyio.PublicFormat is serialization.PublicFormat


@pytest.mark.subprocess  # the import set of a fresh interpreter
def test_verify_path_does_not_import_the_serialization_package() -> None:
    code = (
        "import sys\n"
        "import verifier._internal.verify, verifier._internal.bundle.parse, verifier._internal.trustroot.load, verifier._internal.policy\n"
        "print('cryptography.hazmat.primitives.serialization' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "False"
