"""`airseal gate`: judge every file of a tree that crossed the air gap against a policy.

Layer 3 (services). The pieces, in the order a run uses them:

- `evidence`  the format-adapter seam: `load_evidence(bytes) -> [(format, Bundle)]`
- `policy`    the TOML policy (`[[rule]]` tables), validated up front; glob matching
- `discover`  the walk: artifacts, evidence paired by name, DSSE attestations by subject,
              unsafe files (symlinks, FIFOs, devices) refused without being opened
- `judge`     one artifact against its rule (what a pool worker runs; trust parsed once)
- `run`       the orchestrator: process pool, progress, interrupts, the temp results file
- `report`    results.jsonl, summary.json, junit.xml, report.html, built in a temp
              directory and swapped in whole
- `vsa`       the SLSA Verification Summary Attestation statement (signed by the CLI)

No click, no pkcs11 here: the command (`verifier.cli.gate`) resolves token keys and signs.
"""
