"""The git layer: the only code that talks to libgit2 (through pygit2)."""
