"""Reading a local folder of element sources, as `element add` and `element push` take them."""

from __future__ import annotations

from pathlib import Path

from mirel.errors import InvalidInput


def read_folder(folder: Path) -> dict[str, bytes]:
    """Return every file below a local folder, keyed by posix path; raise InvalidInput."""
    if not folder.is_dir():
        raise InvalidInput(f"{folder} is not a folder; pass the folder that holds the sources")
    files: dict[str, bytes] = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if relative.parts[0] == ".git":
            continue
        if path.is_symlink():
            raise InvalidInput(f"{path} is a symbolic link; mirel stores plain files only")
        if path.is_file():
            files[relative.as_posix()] = path.read_bytes()
    if not files:
        raise InvalidInput(f"{folder} holds no files")
    return files
