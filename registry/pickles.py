"""Walking a pickle's opcodes without running it (pickletools): which globals it imports and
whether it is whole. Plain Python, for the scanner (registry.scanning)."""

from __future__ import annotations

import pickletools
import warnings
from collections import deque
from dataclasses import dataclass, field
from typing import IO

_STRING_OPCODES = {"SHORT_BINUNICODE", "UNICODE", "BINUNICODE", "BINUNICODE8", "STRING", "BINSTRING", "SHORT_BINSTRING"}
_MEMO_GETS = {"GET", "BINGET", "LONG_BINGET"}
_MEMO_PUTS = {"PUT", "BINPUT", "LONG_BINPUT"}


@dataclass
class Walk:
    complete: bool = False  # the opcodes reach STOP
    end: int = 0  # where the walk stopped
    globals: set[tuple[str, str]] = field(default_factory=set)


def walk_pickle(stream: IO[bytes]) -> Walk:
    """The globals one pickle imports, read from the stream's position by walking its opcodes
    (pickletools; nothing runs). STACK_GLOBAL takes its module and name from the two values
    before it, through the memo; any value that is not a string reads as "unknown" (dangerous),
    as in picklescan. A walk stops at STOP, at bytes that are not a pickle, or where pickle.load
    would fail: a STACK_GLOBAL with nothing before it, or a module name no import can find
    (a tar whose first file is `config.json` starts with GLOBAL, "onfig.json\\0\\0...")."""
    walk = Walk()
    memo: dict[object, str] = {}
    recent: deque[str] = deque(maxlen=2)  # the values of the last two opcodes, memo writes skipped
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pickletools on bytes that are no pickle: bad escapes
        try:
            for opcode, arg, _pos in pickletools.genops(stream):
                name = opcode.name
                if name in _MEMO_PUTS or name == "MEMOIZE":
                    memo[arg if name in _MEMO_PUTS else len(memo)] = recent[-1] if recent else "unknown"
                    continue
                if name in ("GLOBAL", "INST"):
                    module, _, attribute = str(arg).partition(" ")
                    if not importable(module):
                        break
                    walk.globals.add((module, attribute))
                elif name == "STACK_GLOBAL":
                    if len(recent) < 2 or not importable(recent[0]):
                        break
                    walk.globals.add((recent[0], recent[1]))
                elif name == "STOP":
                    walk.complete = True
                    break
                if name in _STRING_OPCODES and isinstance(arg, str):
                    recent.append(arg)
                else:
                    recent.append(memo.get(arg, "unknown") if name in _MEMO_GETS else "unknown")
        except Exception:  # noqa: BLE001, S110 - not (or no longer) a pickle: `complete` says so
            pass
    walk.end = stream.tell()
    return walk


def importable(module: str) -> bool:
    """Whether pickle.load could import `module` (a dotted name of identifiers); where it cannot,
    loading stops there with an error, so nothing after it runs."""
    return all(part.isidentifier() for part in module.split("."))
