"""Sigstore bundle: frozen model and strict parser."""
