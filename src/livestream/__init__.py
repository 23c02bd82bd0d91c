"""LiveStream Pro: a live video platform for small and mid-size creators."""

__version__ = "0.1.0"
