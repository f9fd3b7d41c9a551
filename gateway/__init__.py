"""Self-hosted cookie and tracking-pixel consent gateway."""

__version__ = "0.1.0"
