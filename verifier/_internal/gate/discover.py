"""Walking the tree: artifacts, the evidence that goes with them, and what is refused.

Never follows a symbolic link and never opens anything but regular files: directory entries
are classified from `lstat` (via `os.scandir` without following), so a symlink, FIFO, socket
or device is reported as `gate.unsafe_file` where it stands, and a symlinked directory is not
entered (no escape from PATH). Directories are read one at a time, entries sorted, so runs
are reproducible and memory holds one directory listing, not the tree.

Two passes over the tree:

1. `index_attestations`: evidence-named files that pair with no artifact (`release.intoto.jsonl`
   beside no `release`) are read; a DSSE bundle among them whose in-toto subjects name
   regular files of the tree becomes an attestation for those files. The subject index is
   the only structure that grows with the tree (capped by `gate_max_attested_subjects`).
   Such a file that is evidence but names nothing in the tree is orphan evidence; one that is
   not evidence at all is an artifact like any other (so a name cannot smuggle a file past
   the gate).
2. `iter_work`: the same walk again, yielding one `Item` per artifact (with its evidence and
   rule), `Refused` entries and `Orphan` notices, streaming.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import stat
from collections.abc import Callable, Iterator, Sequence
from typing import Optional, Union

from verifier._internal import intoto
from verifier._internal.bundle.model import DsseEnvelope
from verifier._internal.evidence import load_evidence
from verifier._internal.gate.evidence import evidence_base, looks_like_evidence
from verifier._internal.gate.policy import RuleMatcher
from verifier._internal.limits import DEFAULT_LIMITS, Limits
from verifier._internal.record import Record
from verifier.errors import AirsealError, InputError, Reason

OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
"""How the gate opens anything: never through a symlink, never blocking on a FIFO."""


class AttRef(Record):
    """One DSSE bundle of an attestation file that names an artifact among its subjects."""

    key: tuple[int, str, int]
    """(root index, relative path of the attestation file, bundle index in the file)."""
    abspath: str
    format: str
    sha256s: tuple[str, ...]
    """The subject's sha256 digests (lowercase hex) for this artifact's name."""
    probe_sha256: str
    """A sha256 subject digest of the statement: verifying the envelope needs one."""


class Item(Record):
    """An artifact to judge."""

    root: int
    relpath: str
    abspath: str
    evidence: tuple[tuple[str, str], ...]
    """(relative path, absolute path) of each evidence file paired by name."""
    rule: Optional[int]
    """Position of the matching rule in the policy's rule list; None: no rule matched."""
    attestations: tuple[AttRef, ...] = ()


class Refused(Record):
    """A directory entry that is not a regular file or directory, or cannot be listed."""

    root: int
    relpath: str
    kind: str
    reason: Reason
    message: str


class Orphan(Record):
    root: int
    relpath: str
    format: Optional[str]
    message: str


Work = Union[Item, Refused, Orphan]


def _kind(entry: os.DirEntry[str]) -> str:
    if entry.is_symlink():
        return "symlink"
    if entry.is_dir(follow_symlinks=False):
        return "dir"
    if entry.is_file(follow_symlinks=False):
        return "file"
    mode = entry.stat(follow_symlinks=False).st_mode
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "other"


class Listing(Record):
    dirrel: str
    """Relative directory ('' for the root), '/'-separated."""
    files: tuple[str, ...]
    others: tuple[tuple[str, str], ...]
    """(name, kind) of entries refused: symlinks, FIFOs, sockets, devices."""
    error: Optional[str] = None


class Skip(Record):
    """Directories the walk leaves out: the run's own report directory and staging directory,
    when they sit inside PATH (`airseal gate .` writes `./airseal-report`)."""

    paths: frozenset[str] = frozenset()
    """Absolute, normalised directory paths."""

    def __call__(self, path: str) -> bool:
        return path in self.paths


NO_SKIP = Skip()


def walk(root: str, skip: Skip = NO_SKIP) -> Iterator[Listing]:
    """Depth-first, sorted; one directory in memory at a time (plus the stack of pending dirs)."""
    stack = [""]
    while stack:
        dirrel = stack.pop()
        path = os.path.join(root, dirrel) if dirrel else root
        files: list[str] = []
        others: list[tuple[str, str]] = []
        subdirs: list[str] = []
        try:
            with os.scandir(path) as it:
                for entry in it:
                    kind = _kind(entry)
                    if kind == "file":
                        files.append(entry.name)
                    elif kind == "dir":
                        subdirs.append(entry.name)
                    else:
                        others.append((entry.name, kind))
        except OSError as exc:
            yield Listing(dirrel, (), (), exc.strerror or str(exc))
            continue
        files.sort()
        others.sort()
        yield Listing(dirrel, tuple(files), tuple(others))
        for name in sorted(subdirs, reverse=True):
            if skip is not NO_SKIP and skip(os.path.normpath(os.path.join(path, name))):
                continue
            stack.append(f"{dirrel}/{name}" if dirrel else name)


def _rel(dirrel: str, name: str) -> str:
    return f"{dirrel}/{name}" if dirrel else name


def read_regular(path: str, max_bytes: int) -> bytes:
    """Read a regular file without following a symlink or blocking on a FIFO.

    Raises:
        InputError: artifact.unreadable (not a regular file, unreadable); input.too_large.
    """
    try:
        fd = os.open(path, OPEN_FLAGS)
    except OSError as exc:
        raise InputError(Reason.ARTIFACT_UNREADABLE, f"cannot open {path!r}: {exc.strerror or exc}") from exc
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InputError(Reason.ARTIFACT_UNREADABLE, f"{path!r} is not a regular file")
        chunks = []
        total = 0
        while data := os.read(fd, 1 << 20):
            chunks.append(data)
            total += len(data)
            if total > max_bytes:
                raise InputError(Reason.INPUT_TOO_LARGE, f"{path!r} is larger than {max_bytes} bytes")
        return b"".join(chunks)
    except OSError as exc:
        raise InputError(Reason.ARTIFACT_UNREADABLE, f"cannot read {path!r}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)


class AttestationIndex:
    """Pass 1's findings: subjects -> attestation bundles; how unpaired evidence files classify."""

    def __init__(self) -> None:
        self.by_subject: dict[tuple[int, str], list[AttRef]] = {}
        self.candidates: dict[tuple[int, str], str] = {}
        """(root, relpath) of an unpaired evidence-named file -> "attestation" or "orphan" (files
        that are neither are not remembered: memory grows with evidence, not with names)."""
        self.orphan_formats: dict[tuple[int, str], Optional[str]] = {}
        self.artifacts = 0
        """Work items pass 2 will yield for judging (artifacts and refused entries)."""
        self.subjects = 0

    def rules_needed(self, matcher: RuleMatcher, rules: Sequence[object]) -> dict[tuple[int, str, int], set[int]]:
        """For each attestation bundle, the positions of the rules its subjects fall under."""
        positions = {id(rule): i for i, rule in enumerate(rules)}
        needed: dict[tuple[int, str, int], set[int]] = {}
        for (_root, rel), refs in self.by_subject.items():
            rule = matcher.match(rel)
            if rule is None or getattr(rule, "deny", False):
                continue
            for ref in refs:
                needed.setdefault(ref.key, set()).add(positions[id(rule)])
        return needed


def _resolve_subject(root: str, dirrel: str, name: str) -> Optional[str]:
    """A subject name as a path in the tree: beside the attestation, else from PATH."""
    if not name or "\x00" in name or name.startswith("/") or "\\" in name:
        return None
    for base in ((dirrel, "") if dirrel else ("",)):
        rel = posixpath.normpath(posixpath.join(base, name)) if base else posixpath.normpath(name)
        if rel.startswith("../") or rel == ".." or rel == ".":
            continue
        try:
            st = os.lstat(os.path.join(root, rel))
        except (OSError, ValueError):
            continue
        if stat.S_ISREG(st.st_mode):
            return rel
    return None


Member = Callable[[str], bool]
"""Whether a relative path belongs to this run (`Shard.holds`); None: every path does."""


def index_attestations(
    roots: Sequence[str], limits: Limits = DEFAULT_LIMITS, skip: Skip = NO_SKIP, member: Optional[Member] = None
) -> AttestationIndex:
    """Pass 1. Raises InputError(input.too_large) past `gate_max_attested_subjects`.

    With `member` (a shard), every attestation is still read and classified (what is
    evidence does not depend on the shard), but only the subjects this shard holds are
    indexed, and only its work is counted: an attestation covering files of several shards
    is verified in each shard that holds one of them.
    """
    index = AttestationIndex()
    mine: Member = member or (lambda _rel: True)
    for root_i, root in enumerate(roots):
        for listing in walk(root, skip):
            if listing.error is not None:
                index.artifacts += mine(listing.dirrel or ".")
                continue
            names = frozenset(listing.files)
            index.artifacts += sum(1 for name, _ in listing.others if mine(_rel(listing.dirrel, name)))
            for name in listing.files:
                if evidence_base(name, names) is not None:
                    continue  # paired evidence: judged with its artifact
                rel = _rel(listing.dirrel, name)
                if not looks_like_evidence(name):
                    index.artifacts += mine(rel)
                    continue
                verdict = _classify_candidate(index, root_i, root, listing.dirrel, rel, limits, mine)
                if verdict == "orphan" and len(index.orphan_formats) > limits.gate_max_attested_subjects:
                    verdict = "artifact"  # past the cap, remembered as nothing: judged (and failed) instead
                    index.orphan_formats.pop((root_i, rel), None)
                if verdict == "artifact":
                    index.artifacts += mine(rel)  # not remembered: pass 2 treats unknown names as artifacts
                else:
                    index.candidates[(root_i, rel)] = verdict
    return index


def _classify_candidate(
    index: AttestationIndex, root_i: int, root: str, dirrel: str, rel: str, limits: Limits, mine: Member
) -> str:
    abspath = os.path.join(root, rel)
    try:
        data = read_regular(abspath, limits.max_bundle_bytes)
        bundles = load_evidence(data, limits)
    except AirsealError:
        return "artifact"
    named = False
    for bundle_i, found in enumerate(bundles):
        fmt, bundle = found.format, found.bundle
        content = bundle.content
        if not isinstance(content, DsseEnvelope) or content.payload_type != intoto.PAYLOAD_TYPE:
            continue
        try:
            subjects = intoto.read_subjects(content.payload_type, content.payload, limits)
        except AirsealError:
            continue
        probe = next((s.digests["sha256"] for s in subjects if "sha256" in s.digests), None)
        if probe is None:
            continue
        by_target: dict[str, list[str]] = {}
        for subject in subjects:
            target = _resolve_subject(root, dirrel, subject.name or "")
            if target is None or target == rel or "sha256" not in subject.digests:
                continue
            by_target.setdefault(target, []).append(subject.digests["sha256"])
        for target, digests in by_target.items():
            if index.subjects >= limits.gate_max_attested_subjects:
                raise InputError(
                    Reason.INPUT_TOO_LARGE,
                    f"attestations name more than {limits.gate_max_attested_subjects} files of the tree",
                )
            index.subjects += 1
            named = True
            if mine(target):
                ref = AttRef((root_i, rel, bundle_i), abspath, fmt, tuple(digests), probe)
                index.by_subject.setdefault((root_i, target), []).append(ref)
    if named:
        return "attestation"
    index.orphan_formats[(root_i, rel)] = bundles[0][0] if bundles else None
    return "orphan"


def iter_work(
    roots: Sequence[str],
    index: AttestationIndex,
    matcher: RuleMatcher,
    rule_positions: dict[int, int],
    skip: Skip = NO_SKIP,
    member: Optional[Member] = None,
) -> Iterator[Work]:
    """Pass 2: every artifact, refused entry and orphan notice (of this shard, with `member`),
    streaming, in walk order."""
    mine: Member = member or (lambda _rel: True)
    for root_i, root in enumerate(roots):
        for listing in walk(root, skip):
            if listing.error is not None:
                if not mine(listing.dirrel or "."):
                    continue
                yield Refused(root_i, listing.dirrel or ".", "directory", Reason.ARTIFACT_UNREADABLE,
                              f"cannot list directory: {listing.error}")
                continue
            names = frozenset(listing.files)
            for name, kind in listing.others:
                if not mine(_rel(listing.dirrel, name)):
                    continue
                what = "a symbolic link" if kind == "symlink" else f"a {kind}"
                yield Refused(root_i, _rel(listing.dirrel, name), kind, Reason.GATE_UNSAFE_FILE,
                              f"{what}: refused, not followed or opened")
            paired: dict[str, list[str]] = {}
            for name in listing.files:
                base = evidence_base(name, names)
                if base is not None:
                    paired.setdefault(base, []).append(name)
            for name in listing.files:
                if evidence_base(name, names) is not None:
                    continue
                rel = _rel(listing.dirrel, name)
                verdict = index.candidates.get((root_i, rel))
                if verdict == "attestation" or not mine(rel):
                    continue
                if verdict == "orphan":
                    yield Orphan(root_i, rel, index.orphan_formats.get((root_i, rel)),
                                 "evidence with no artifact beside it and no subject in the tree")
                    continue
                rule = matcher.match(rel)
                evidence = tuple(
                    (_rel(listing.dirrel, ev), os.path.join(root, _rel(listing.dirrel, ev))) for ev in paired.get(name, ())
                )
                yield Item(
                    root=root_i,
                    relpath=rel,
                    abspath=os.path.join(root, rel),
                    evidence=evidence,
                    rule=None if rule is None else rule_positions[id(rule)],
                    attestations=tuple(index.by_subject.get((root_i, rel), ())),
                )


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


__all__ = [
    "AttRef",
    "AttestationIndex",
    "Item",
    "Listing",
    "Member",
    "OPEN_FLAGS",
    "Orphan",
    "Refused",
    "Skip",
    "Work",
    "index_attestations",
    "iter_work",
    "read_regular",
    "walk",
]
