"""Walking a pickle's opcodes without running it (pickletools): which globals it imports and
whether it is whole. Plain Python, for the scanner (registry.scanning)."""

from __future__ import annotations

import pickletools
import warnings
from collections.abc import Iterator
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


_MARK = object()  # pickle's mark on the simulated stack
_UNKNOWN = "unknown"  # any value that is not a string (read as dangerous where it names a global)
_MAX_STACK = 1_000_000  # values held while walking; a pickle needing more is not scanned further
_MAX_NAME = 1024  # longer strings cannot be module or attribute names; kept as unknown


def walk_pickle(stream: IO[bytes]) -> Walk:
    """The globals one pickle imports, read from the stream's position by walking its opcodes
    (pickletools; nothing runs) on a simulated stack, so that STACK_GLOBAL takes its module and
    name from the values pickle.load would (through POP, DUP, marks and the memo). A value that is
    not a string reads as "unknown" (dangerous), as in picklescan. A walk stops at STOP, at bytes
    that are not a pickle, or where pickle.load would fail: a stack that runs short, or a module
    name no import can find (a tar whose first file is `config.json` starts with GLOBAL,
    "onfig.json\\0\\0..."). Past `_MAX_STACK` values the simulation stops but the walk goes on:
    every STACK_GLOBAL after that point reads as unknown (dangerous)."""
    walk = Walk()
    memo: dict[object, object] = {}
    stack: list[object] = []
    simulating = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pickletools on bytes that are no pickle: bad escapes
        try:
            for opcode, arg in _opcodes(stream):
                name = opcode.name
                if name in ("GLOBAL", "INST"):
                    module, _, attribute = str(arg).partition(" ")
                    if not importable(module):
                        break
                    walk.globals.add((module, attribute))
                elif name == "STACK_GLOBAL":
                    if not simulating:
                        walk.globals.add((_UNKNOWN, _UNKNOWN))
                    elif len(stack) < 2 or not importable(_text(stack[-2])):
                        break
                    else:
                        walk.globals.add((_text(stack[-2]), _text(stack[-1])))
                elif name == "STOP":
                    walk.complete = True
                    break
                if not simulating:
                    continue
                if name in _MEMO_PUTS or name == "MEMOIZE":
                    if not stack:
                        break
                    memo[arg if name in _MEMO_PUTS else len(memo)] = stack[-1]
                    continue
                if not _simulate(stack, opcode, arg, memo):
                    break  # pickle.load would fail here: nothing after it runs
                if len(stack) > _MAX_STACK:  # too many values to follow: judged without them
                    simulating, stack, memo = False, [], {}
        except Exception:  # noqa: BLE001, S110 - not (or no longer) a pickle: `complete` says so
            pass
    walk.end = stream.tell()
    return walk


_BY_CODE = {opcode.code: opcode for opcode in pickletools.opcodes}


def _opcodes(stream: IO[bytes]) -> Iterator[tuple[pickletools.OpcodeInfo, object]]:
    """pickletools.genops, but with INT and LONG read as pickle.load reads them (`int(text, 0)`:
    `I0x10` is 16 there, and an error in pickletools, which ended the walk before the import that
    followed it). Raises ValueError where the bytes stop being a pickle."""
    while True:
        code = stream.read(1)
        opcode = _BY_CODE.get(code.decode("latin-1"))
        if opcode is None:
            raise ValueError("not a pickle opcode" if code else "pickle exhausted before STOP")
        if opcode.arg is None:
            arg: object = None
        elif opcode.name in ("INT", "LONG"):
            line = stream.readline(1 << 20)  # a number past 4,300 digits fails in pickle.load too
            if not line.endswith(b"\n"):
                raise ValueError("no newline after a number")
            text = line[:-1]
            if opcode.name == "LONG" and text.endswith(b"L"):
                text = text[:-1]
            boolean = opcode.name == "INT" and text in (b"00", b"01")  # pickle's False and True
            arg = text == b"01" if boolean else int(text, 0)
        else:
            arg = opcode.arg.reader(stream)
        yield opcode, arg
        if opcode.name == "STOP":
            return


def _text(value: object) -> str:
    return value if isinstance(value, str) else _UNKNOWN


def _effect(opcode: pickletools.OpcodeInfo) -> tuple[bool, int, tuple[object, ...]]:
    """(takes the values down to a mark, values it takes besides, what it leaves) from
    pickletools' description of the opcode."""
    before = opcode.stack_before
    after = tuple(_MARK if item is pickletools.markobject else _UNKNOWN for item in opcode.stack_after)
    if pickletools.stackslice in before:
        return True, before.index(pickletools.markobject), after
    return False, len(before), after


_EFFECTS = {opcode.name: _effect(opcode) for opcode in pickletools.opcodes}


def _simulate(stack: list[object], opcode: pickletools.OpcodeInfo, arg: object, memo: dict) -> bool:
    """Apply one opcode's effect on the stack; False where the real stack would run short."""
    name = opcode.name
    to_mark, count, after = _EFFECTS[name]
    top = stack[-1] if stack else None
    if to_mark:
        while stack and stack[-1] is not _MARK:
            stack.pop()
        if not stack:
            return False
        stack.pop()
    if len(stack) < count:
        return False
    if count:
        del stack[-count:]
    if name in _STRING_OPCODES and isinstance(arg, str):
        stack.append(arg if len(arg) <= _MAX_NAME else _UNKNOWN)
    elif name in _MEMO_GETS:
        stack.append(memo.get(arg, _UNKNOWN))
    elif name == "DUP":
        stack += (top, top)
    else:
        stack += after
    return True


def importable(module: str) -> bool:
    """Whether pickle.load could import `module` (a dotted name of identifiers); where it cannot,
    loading stops there with an error, so nothing after it runs."""
    return all(part.isidentifier() for part in module.split("."))
