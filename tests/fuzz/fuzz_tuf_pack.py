"""Fuzz the TUF media pack reader (refresh/media.py `read_pack_bytes`) and the completeness
peeks at the metadata it holds (strict JSON of every file)."""

from __future__ import annotations

try:
    from tests.fuzz._harness import instrumented, run
except ImportError:  # run as a script: python tests/fuzz/fuzz_x.py
    from _harness import instrumented, run  # type: ignore[import-not-found,no-redef]

with instrumented("verifier"):
    from verifier._internal.encoding import load_json
    from verifier._internal.refresh.media import read_pack_bytes
    from verifier.errors import AirsealError


def test_one_input(data: bytes) -> None:
    try:
        pack = read_pack_bytes(data)
    except AirsealError:
        return
    for name in sorted(pack.names()):
        try:
            blob = pack.read(name, 8 * 1024 * 1024)
            if blob is not None and name.endswith(".json"):
                load_json(blob, what=name)
        except AirsealError:
            pass


if __name__ == "__main__":
    run(test_one_input)
