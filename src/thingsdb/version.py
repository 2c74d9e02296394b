"""The package's version, where python-thingsdb code looks for it."""

__version__ = "0.1.0"
