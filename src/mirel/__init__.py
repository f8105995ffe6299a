"""mirel: multi-instance releases decided through git."""

__version__ = "0.1.0"
