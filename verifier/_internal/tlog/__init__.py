"""Transparency-log evidence: Merkle inclusion, signed-note checkpoints, entry bodies, SETs."""
