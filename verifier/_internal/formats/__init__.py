"""Readers for evidence formats that wrap Sigstore bundles (layer 1: parsing only).

One module per format; `verifier._internal.evidence` registers each reader. A reader takes the
file's bytes and returns `Evidence` items, or None when the bytes are not its format. Readers
sniff cheaply before parsing and import nothing heavier than json, so a plain bundle pays
almost nothing for them.
"""
