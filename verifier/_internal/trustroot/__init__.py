"""Trusted root: model, strict loader, shipped snapshot, and (only in refresh/store) TUF."""
