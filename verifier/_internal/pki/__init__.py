"""X.509 for Sigstore: Fulcio chain validation, embedded SCTs, certificate summaries."""
