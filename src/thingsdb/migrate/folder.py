"""The migrations folder: ``NNNN_description.ti`` files, read and checked.

Rules (each broken rule is a :class:`FolderError` with one line that names
the file):

* a migration file is named ``NNNN_description.ti``: four or more digits,
  ``_``, then letters, digits, ``_`` or ``-``; other ``.ti`` files are an
  error, files with other endings (a README, ``.gitkeep``) are ignored;
* numbers start at 1 and follow each other without gaps, each used once;
* files are UTF-8 text.

A file's text is taken with a byte order mark removed and every line end
made ``\\n``, so a checkout that turns line ends into ``\\r\\n`` changes
neither the checksum nor the line numbers.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import FolderError

SUFFIX = ".ti"
_FILE_RE = re.compile(r"(\d{4,})_([A-Za-z0-9][A-Za-z0-9_-]*)\.ti")
_DESCRIPTION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
PATTERN_HINT = (
    "expected NNNN_description.ti (4 or more digits, '_', then letters, "
    "digits, '_' or '-')"
)


@dataclass(frozen=True)
class MigrationFile:
    """One migration file: its number, name, text and checksum."""

    number: int
    description: str
    path: Path
    text: str
    checksum: str

    @property
    def name(self) -> str:
        """The file name, ``0003_add_email.ti``."""
        return self.path.name

    @property
    def commit_message(self) -> str:
        """What ``up`` passes to ``commit()`` when history is on."""
        return f"migration {self.number:04d}: {self.description}"


def normalize(raw: bytes, name: str) -> str:
    """The text of a migration file: UTF-8, no BOM, ``\\n`` line ends."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FolderError(
            f"{name}: not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    text = text.removeprefix("\ufeff")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def checksum(text: str) -> str:
    """The checksum kept in the record: ``sha256:`` and the hex digest."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_name(number: int, description: str) -> str:
    return f"{number:04d}_{description}{SUFFIX}"


def description_of(name: str) -> str:
    """``new NAME``: the description for a file name; spaces become ``_``."""
    description = "_".join(name.split())
    if not _DESCRIPTION_RE.fullmatch(description):
        raise FolderError(
            f"{name!r} cannot be a migration name: use letters, digits, '_' "
            "or '-' (starting with a letter or digit)"
        )
    return description


def _parse_name(path: Path) -> tuple[int, str]:
    match = _FILE_RE.fullmatch(path.name)
    if match is None:
        raise FolderError(f"{path.name}: not a migration file name; {PATTERN_HINT}")
    return int(match.group(1)), match.group(2)


def _candidates(folder: Path) -> list[Path]:
    """The ``.ti`` files of ``folder`` (hidden files left out)."""
    if not folder.exists():
        raise FolderError(f"the migrations folder {folder} does not exist")
    if not folder.is_dir():
        raise FolderError(f"{folder} is not a folder")
    try:
        entries = list(folder.iterdir())
    except OSError as exc:
        raise FolderError(f"cannot read the folder {folder}: {exc.strerror}") from None
    return sorted(
        p for p in entries if p.name.endswith(SUFFIX) and not p.name.startswith(".")
    )


def load_folder(folder: Path) -> list[MigrationFile]:
    """Every migration of ``folder``, in number order, checked (see the
    module's rules). An empty folder gives an empty list."""
    named: dict[int, Path] = {}
    for path in _candidates(folder):
        number, _description = _parse_name(path)
        if number in named:
            first, second = sorted((named[number].name, path.name))
            raise FolderError(
                f"number {number:04d} is used twice: {first} and {second}"
            )
        named[number] = path
    expected = 1
    migrations: list[MigrationFile] = []
    for number in sorted(named):
        path = named[number]
        if number != expected:
            if expected == 1:
                raise FolderError(
                    f"{path.name}: the first migration must be number 0001 "
                    "(numbers start at 1 and have no gaps)"
                )
            raise FolderError(
                f"{path.name}: number {expected:04d} is missing before it "
                f"(numbers follow each other without gaps; the one before is "
                f"{migrations[-1].name})"
            )
        expected += 1
        if not path.is_file():
            raise FolderError(f"{path.name}: not a file")
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise FolderError(f"cannot read {path}: {exc.strerror}") from None
        text = normalize(raw, path.name)
        migrations.append(
            MigrationFile(
                number=number,
                description=_parse_name(path)[1],
                path=path,
                text=text,
                checksum=checksum(text),
            )
        )
    return migrations


def write_new_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, which must not exist yet: first to a
    temporary file in the same folder, then linked into place, so a
    half-written file never carries a migration's name and an existing
    file is never replaced."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.link(tmp, path)  # FileExistsError if someone made it meanwhile
    finally:
        Path(tmp).unlink(missing_ok=True)


def new_migration(folder: Path | str, name: str) -> Path:
    """Create the next migration file of ``folder`` (made when missing) for
    ``name`` and return its path. The folder must be in order (see
    :func:`load_folder`)."""
    folder = Path(folder)
    description = description_of(name)
    if not folder.exists():
        folder.mkdir(parents=True)
    existing = load_folder(folder)
    number = len(existing) + 1
    path = folder / file_name(number, description)
    text = (
        f"// {path.name}: runs once, in one query, with `thingsdb-cli migrate up`.\n"
        "// Put checks (assert, has_type...) first: ThingsDB keeps what a query\n"
        "// changed before it raised.\n"
        "\n"
    )
    try:
        write_new_file(path, text)
    except FileExistsError:
        raise FolderError(f"{path} exists already") from None
    except OSError as exc:
        raise FolderError(f"cannot write {path}: {exc.strerror}") from None
    return path
