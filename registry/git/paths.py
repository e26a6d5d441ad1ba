"""Validation of file paths inside repos and of branch and tag names.

SECURITY: storage never uses these paths (content lives under its sha256), but clients write files
under them, and git itself refuses some of them. A path is accepted only if it is UTF-8 text in
NFC form with no control or format characters, no backslash, no empty, '.', or '..' component,
no component that git, NTFS or HFS+ would treat as `.git` (git's `is_ntfs_dotgit` and
`is_hfs_dotgit` rules: `.GIT`, `.git.`, `git~1`, `.git::$INDEX_ALLOCATION`, `.git` with
ignorable code points inside), no Windows device name, and within the length limits.

Windows device names (`CON`, `nul.txt`, `COM1`) and the characters Windows refuses in names
(`<>:"|?*`) are Gatehouse policy for files added or changed, not git's: git refuses them only when
it runs on Windows, so a repo holding one cannot be cloned or downloaded there.
"""

from __future__ import annotations

import re
import unicodedata

from core.errors import BadRequest

MAX_PATH_BYTES = 1024
MAX_COMPONENT_BYTES = 255
FORBIDDEN_COMPONENTS = frozenset({".git", ".cache", "git~1"})
# Code points HFS+ drops when it compares names (git's utf8.c list): `.g\u200cit` is `.git` there.
HFS_IGNORED = frozenset([*range(0x200C, 0x2010), *range(0x202A, 0x202F), *range(0x206A, 0x2070), 0xFEFF])
# Device names, whatever follows them after spaces and a dot or colon ("aux.txt", "NUL:x").
# COM0/LPT0 and the superscript digits are in Microsoft's list of reserved names too.
_WINDOWS_DEVICE = re.compile(r"(con|prn|aux|nul|conin\$|conout\$|com[0-9¹²³]|lpt[0-9¹²³]) *(?:[.:].*)?", re.I | re.S)
# Characters Windows refuses in file names (control characters are refused for every path).
_WINDOWS_RESERVED_CHARS = re.compile(r'[<>:"|?*]')
_DRIVE = re.compile(r"^[A-Za-z]:")
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def _bad(path: str, why: str) -> BadRequest:
    shown = path.encode("unicode_escape").decode("ascii")[:200]
    return BadRequest(f"Invalid path '{shown}': {why}.")


def validate_path(path: str, *, allow_root: bool = False) -> str:
    """Return the canonical path ('a/b.txt') or raise BadRequest with the reason."""
    if not isinstance(path, str):
        raise BadRequest("A path must be a string.")
    if path == "" and allow_root:
        return ""
    if path == "":
        raise _bad(path, "it is empty")
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise _bad(path, f"it is longer than {MAX_PATH_BYTES} bytes")
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise _bad(path, "it is not valid UTF-8") from None
    if unicodedata.normalize("NFC", path) != path:
        raise _bad(path, "it is not in Unicode NFC form")
    for ch in path:
        category = unicodedata.category(ch)
        if category in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp"):
            raise _bad(path, "it contains a control or invisible formatting character")
    if "\\" in path:
        # The Hub answers 422 to a Windows-style path.
        error = _bad(path, "backslashes are not allowed; separate folders with '/'")
        error.status = 422
        raise error
    if path.startswith("/"):
        raise _bad(path, "absolute paths are not allowed")
    if _DRIVE.match(path):
        raise _bad(path, "drive-letter paths are not allowed")
    for component in path.split("/"):
        _validate_component(path, component)
    return path


def _validate_component(path: str, component: str) -> None:
    if component in ("", ".", ".."):
        raise _bad(path, "empty, '.' and '..' components are not allowed")
    if len(component.encode()) > MAX_COMPONENT_BYTES:
        raise _bad(path, f"a component is longer than {MAX_COMPONENT_BYTES} bytes")
    if component != component.rstrip(". "):
        raise _bad(path, "components may not end in a dot or a space")
    if component.casefold() in FORBIDDEN_COMPONENTS:
        raise _bad(path, f"'{component}' is reserved")
    if is_ntfs_dotgit(component) or is_hfs_dotgit(component):
        raise _bad(path, f"'{component}' names the '.git' folder on Windows or macOS")


def is_ntfs_dotgit(component: str) -> bool:
    """NTFS reads `.git`, `.git. .`, `.git::$INDEX_ALLOCATION` and the short name `GIT~1` as the
    `.git` folder: git's rule is `.git` or `git~1` (any case), then only dots and spaces up to the
    end of the name or to the ':' that starts an alternate data stream."""
    for stem in (".git", "git~1"):
        head = component[: len(stem)]
        if head.isascii() and head.lower() == stem:  # ASCII case only, as git compares
            rest = component[len(stem) :].split(":", 1)[0]
            return rest.strip(". ") == ""
    return False


def is_hfs_dotgit(component: str) -> bool:
    """HFS+ ignores some invisible code points and folds case, so `.git` with a zero-width joiner inside is `.git`."""
    visible = [ch for ch in component if ord(ch) not in HFS_IGNORED]
    name = "".join(visible)
    return name.isascii() and name.lower() == ".git"


def validate_new_path(path: str) -> str:
    """`validate_path` for a file being added: Windows device names are refused too.

    Only new files: a repo may already hold `aux.py` from before this rule, and its files must stay
    readable and deletable."""
    validate_path(path)
    if found := _WINDOWS_RESERVED_CHARS.search(path):
        raise _bad(
            path,
            f"'{found.group()}' cannot be in a file name on Windows: this hub refuses it so that Windows clients "
            "can download the repo",
        )
    for component in path.split("/"):
        if _WINDOWS_DEVICE.fullmatch(component):
            raise _bad(
                path,
                f"'{component}' is a Windows device name: this hub refuses it because a file named so "
                "cannot be created on Windows, so no Windows client could download the repo",
            )
    return path


def validate_folder(path: str) -> str:
    """A folder path as sent by clients, which may end in '/'. The root is not a folder to delete."""
    return validate_path(path.rstrip("/") if isinstance(path, str) else path)


def validate_ref_name(name: str, *, kind: str = "branch") -> str:
    """A branch or tag name, by git's check-ref-format rules; `refs/...` names are reserved."""
    if not isinstance(name, str) or not name:
        raise BadRequest(f"A {kind} name must be a non-empty string.")
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, as JSON's "\ud800" decodes
        raise BadRequest(f"Invalid {kind} name: it is not valid UTF-8.") from None
    reasons = []
    if len(encoded) > 255:
        reasons.append("longer than 255 bytes")
    if _REF_FORBIDDEN.search(name):
        reasons.append("contains spaces, control characters or one of ~^:?*[\\")
    if ".." in name or "@{" in name or "//" in name or name == "@":
        reasons.append("contains '..', '@{' or '//'")
    if name.startswith(("/", "-", ".")) or name.endswith(("/", ".", ".lock")):
        reasons.append("starts with '/', '-' or '.', or ends with '/', '.' or '.lock'")
    if any(part.startswith(".") or part.endswith(".lock") for part in name.split("/")):
        reasons.append("has a component starting with '.' or ending with '.lock'")
    if name.startswith("refs/"):
        reasons.append("names under 'refs/' are reserved")
    if re.fullmatch(r"[0-9a-f]{40}", name):
        reasons.append("looks like a commit id")
    if reasons:
        # The Hub's words for a branch, which its client's tests match on.
        label = "Invalid reference for a branch" if kind == "branch" else f"Invalid {kind} name"
        raise BadRequest(f"{label}: {'; '.join(reasons)}.")
    return name


PARENT_COMMIT_RE = re.compile(r"[0-9A-Fa-f]{5,40}")


def validate_parent_commit(parent_commit: str | None) -> None:
    """A `parentCommit` is a full id, or the short form the Hub and its client accept (5 to 40 hex
    digits, `create_commit(parent_commit=sha[:7])`); anything else is a 400, whether it names the
    head a commit expects or the commit a new pull request forks from. Anything shorter is refused:
    one or two characters would stand for a commit the caller never saw."""
    if parent_commit is not None and not PARENT_COMMIT_RE.fullmatch(parent_commit):
        raise BadRequest("'parentCommit' must be a commit id: 5 to 40 hexadecimal digits (the full 40 are best).")
