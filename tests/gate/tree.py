"""A test tree with every gate outcome, minted by the virtual Sigstore (real bundles).

`build_tree(tmp)` returns a `Tree`: the directory to gate, the policy, the trusted root, the
release key, and `EXPECTED`: relative path -> (verdict, reason_code). Shared by the gate
tests and (its helpers) by benchmarks/bench_gate.py.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.virtual_sigstore import DEFAULT_IDENTITY, DEFAULT_ISSUER, STATEMENT_V1, VirtualSigstore

EXPECTED: dict[str, tuple[str, str | None]] = {
    "pypi/good-1.0-py3-none-any.whl": ("pass", None),
    "pypi/good-2.0-py3-none-any.whl": ("pass", None),  # F.bundle naming
    "pypi/tampered-1.0-py3-none-any.whl": ("fail", "artifact.digest_mismatch"),
    "pypi/wrong_identity-1.0-py3-none-any.whl": ("fail", "identity.mismatch"),
    "pypi/unsigned-1.0-py3-none-any.whl": ("fail", "gate.unsigned"),
    "internal/tool.bin": ("pass", None),
    "internal/wrong-key.bin": ("fail", "signature.invalid"),
    "release/a.tar.gz": ("pass", None),
    "release/b.tar.gz": ("pass", None),
    "release/sub/c.tar.gz": ("pass", None),
    "release/d.tar.gz": ("fail", "dsse.subject_mismatch"),
    "misc/notes.txt": ("fail", "gate.no_rule"),
    "denied/blob.exe": ("fail", "gate.denied"),
    "link-to-good.whl": ("fail", "gate.unsafe_file"),
    "a-fifo": ("fail", "gate.unsafe_file"),
}
ORPHANS = ["pypi/vanished-1.0-py3-none-any.whl.sigstore.json"]


@dataclass
class Tree:
    root: Path
    policy: Path
    trusted_root: Path
    key_pem: Path
    vs: VirtualSigstore


_VS: VirtualSigstore | None = None


def virtual_sigstore() -> VirtualSigstore:
    global _VS
    if _VS is None:
        _VS = VirtualSigstore("gate", with_tsa=False)
    return _VS


def write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def build_tree(base: Path, *, with_specials: bool = True) -> Tree:
    vs = virtual_sigstore()
    root = base / "mirror"
    conf = base / "conf"
    conf.mkdir(parents=True)
    (conf / "trusted_root.json").write_text(json.dumps(vs.trusted_root(tsas=False)))
    (conf / "release.pem").write_bytes(vs.public_key_pem())

    def art(rel: str, data: bytes) -> Path:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        return p

    good = art("pypi/good-1.0-py3-none-any.whl", b"wheel good 1.0\n" * 50)
    write_json(good.with_name(good.name + ".sigstore.json"), vs.sign_artifact(good.read_bytes()))
    good2 = art("pypi/good-2.0-py3-none-any.whl", b"wheel good 2.0\n" * 50)
    write_json(good2.with_name(good2.name + ".bundle"), vs.sign_artifact(good2.read_bytes(), log="v1"))
    tampered = art("pypi/tampered-1.0-py3-none-any.whl", b"tampered after signing\n")
    write_json(tampered.with_name(tampered.name + ".sigstore.json"), vs.sign_artifact(b"the original bytes\n"))
    wrong = art("pypi/wrong_identity-1.0-py3-none-any.whl", b"wrong identity\n")
    write_json(
        wrong.with_name(wrong.name + ".sigstore.json"),
        vs.sign_artifact(wrong.read_bytes(), identity="https://github.com/mallory/fork/.github/workflows/x.yml@refs/heads/main"),
    )
    art("pypi/unsigned-1.0-py3-none-any.whl", b"nobody signed me\n")
    write_json(root / ORPHANS[0], vs.sign_artifact(b"vanished\n"))

    tool = art("internal/tool.bin", b"\x7fELF internal tool\n")
    write_json(tool.with_name("tool.bin.sigstore.json"), vs.sign_artifact(tool.read_bytes(), key_based=True))
    other = VirtualSigstore("gate-other", with_tsa=False)
    wk = art("internal/wrong-key.bin", b"signed by someone else's key\n")
    bundle = other.sign_artifact(wk.read_bytes(), key_based=True, log=None)
    write_json(wk.with_name("wrong-key.bin.sigstore.json"), bundle)

    # One DSSE attestation covering four files (one of them changed after attesting).
    a = art("release/a.tar.gz", b"release a\n")
    b = art("release/b.tar.gz", b"release b\n")
    c = art("release/sub/c.tar.gz", b"release c\n")
    art("release/d.tar.gz", b"release d (replaced)\n")
    subjects = [
        {"name": "a.tar.gz", "digest": {"sha256": hashlib.sha256(a.read_bytes()).hexdigest()}},
        {"name": "b.tar.gz", "digest": {"sha256": hashlib.sha256(b.read_bytes()).hexdigest()}},
        {"name": "sub/c.tar.gz", "digest": {"sha256": hashlib.sha256(c.read_bytes()).hexdigest()}},
        {"name": "d.tar.gz", "digest": {"sha256": hashlib.sha256(b"release d (original)\n").hexdigest()}},
    ]
    statement = {
        "_type": STATEMENT_V1,
        "subject": subjects,
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {"buildDefinition": {"buildType": "https://example.test/build"}, "runDetails": {}},
    }
    write_json(root / "release" / "release.intoto.jsonl", vs.attest(b"", statement=statement))

    art("misc/notes.txt", b"no rule covers me\n")
    art("denied/blob.exe", b"MZ\n")
    if with_specials:
        os.symlink("pypi/good-1.0-py3-none-any.whl", root / "link-to-good.whl")
        os.mkfifo(root / "a-fifo")

    policy = conf / "gate.toml"
    policy.write_text(
        f"""
[[rule]]
name = "wheels from the release workflow"
paths = ["pypi/*.whl"]
certificate-identity = "{DEFAULT_IDENTITY}"
certificate-oidc-issuer = "{DEFAULT_ISSUER}"
trusted-root = "trusted_root.json"

[[rule]]
name = "internal tools, token key"
paths = ["internal/**"]
key = ["release.pem"]
trusted-root = "trusted_root.json"

[[rule]]
name = "release tarballs (attested)"
paths = ["release/**/*.tar.gz"]
certificate-identity-regexp = "https://github.com/airseal-test/.+"
certificate-oidc-issuer = "{DEFAULT_ISSUER}"
trusted-root = "trusted_root.json"

[[rule]]
paths = ["denied/**"]
deny = true
"""
    )
    return Tree(root=root, policy=policy, trusted_root=conf / "trusted_root.json", key_pem=conf / "release.pem", vs=vs)


def add_bulk(tree: Tree, n: int, *, subdir: str = "bulk", per_dir: int = 250) -> list[str]:
    """`n` small artifacts under `subdir/`, each with a key-based bundle (no log entry) made
    with a fresh P-256 key, and a rule for them (inserted first) in the tree's policy. Fast to
    mint (no virtual log): for the scale tests that need many files. Returns their paths."""
    import base64

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    key = ec.generate_private_key(ec.SECP256R1())
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (tree.policy.parent / f"{subdir}.pem").write_bytes(pem)
    hint = base64.b64encode(hashlib.sha256(spki).digest()).decode()
    paths = []
    for i in range(n):
        rel = f"{subdir}/d{i // per_dir:03d}/a{i:06d}.txt"
        path = tree.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = f"bulk artifact {i}\n".encode()
        digest = hashlib.sha256(data).digest()
        sig = key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        path.write_bytes(data)
        write_json(path.with_name(path.name + ".sigstore.json"), {
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {"publicKey": {"hint": hint}, "tlogEntries": []},
            "messageSignature": {"messageDigest": {"algorithm": "SHA2_256", "digest": base64.b64encode(digest).decode()},
                                 "signature": base64.b64encode(sig).decode()},
        })
        paths.append(rel)
    rule = f'[[rule]]\nname = "{subdir}"\npaths = ["{subdir}/**"]\nkey = ["{subdir}.pem"]\nmin-tlog-entries = 0\n\n'
    tree.policy.write_text(rule + tree.policy.read_text())
    return paths
