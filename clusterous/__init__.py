"""clusterous: on-demand compute clusters for scientists."""

__version__ = "0.1.0"
