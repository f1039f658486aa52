"""airseal's offline Sigstore verifier.

Kept deliberately light: importing `verifier` (which `hsm` does, for its errors) must not pull in
click, tuf or any HTTP library.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
