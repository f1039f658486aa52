"""Refreshing named trusts with TUF, online or from removable media (`airseal trust ...`).

Modules, lowest first: media (reading directories and packs safely), completeness (what the
media must hold), pack (writing packs), diff (what changed in trusted_root.json), fetcher
(python-tuf fetchers), explain (tuf refusals -> reason codes), build (the new state folder),
updater (running python-tuf's client). Only fetcher, explain, build and updater import tuf.

This package file imports nothing, so importing one tuf-free module never loads tuf.
"""
