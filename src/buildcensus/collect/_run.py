"""Running probe commands: optional exec prefix, a timeout, an output cap, and no leftovers.

Every failure becomes a `ProbeFailure` with a one-line message; nothing here ever raises
anything else for a command that misbehaves (missing, non-zero, hung, flooding output).
"""

from __future__ import annotations

import os
import selectors
import shlex
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

DEFAULT_TIMEOUT = 20.0
DEFAULT_MAX_OUTPUT = 32 * 1024 * 1024
STDERR_TAIL = 2000


class ProbeFailure(Exception):
    """A probe could not produce a usable answer; the message goes into `errors`."""

    def __init__(self, message: str, *, kind: str = "failed") -> None:
        super().__init__(message)
        self.kind = kind  # missing | exit | timeout | too-large | garbage | failed


@dataclass(frozen=True)
class Result:
    """What a finished command printed."""

    stdout: bytes
    stderr: bytes
    returncode: int


@dataclass
class Runner:
    """Runs commands through an optional prefix (e.g. `docker exec -i CONTAINER`)."""

    prefix: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    max_output: int = DEFAULT_MAX_OUTPUT
    env: dict[str, str] | None = None
    deadline: float | None = None  # time.monotonic() after which no command may run on
    log: list[str] = field(default_factory=list)

    @classmethod
    def from_prefix(cls, prefix: str | None, **kwargs: object) -> Runner:
        """A runner for a shell-quoted prefix string (`--exec "docker exec -i c1"`)."""
        return cls(prefix=tuple(shlex.split(prefix)) if prefix else (), **kwargs)  # type: ignore[arg-type]

    @property
    def local(self) -> bool:
        """True when commands run on this machine (no exec prefix)."""
        return not self.prefix

    def which(self, name: str) -> str | None:
        """Resolve a program on PATH locally; through a prefix, trust the remote PATH."""
        if not self.local:
            return name
        path = self.env.get("PATH") if self.env else None
        return shutil.which(name, path=path)

    def run(
        self, argv: Sequence[str], *, timeout: float | None = None, check: bool = True
    ) -> Result:
        """Run `argv` (through the prefix); raise ProbeFailure on any misbehaviour."""
        limit = self.timeout if timeout is None else timeout
        if self.deadline is not None:
            limit = min(limit, max(self.deadline - time.monotonic(), 0.2))
        full = [*self.prefix, *argv]
        shown = " ".join(
            shlex.quote(a) if len(a) <= 120 and "\n" not in a else "<script>" for a in full
        )
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                full,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # so a hang is killed with all its children
                env=self.env,
            )
        except FileNotFoundError:
            raise ProbeFailure(f"{full[0]}: command not found", kind="missing") from None
        except PermissionError:
            raise ProbeFailure(f"{full[0]}: permission denied", kind="missing") from None
        except OSError as exc:
            raise ProbeFailure(f"{full[0]}: cannot run: {exc.strerror or exc}") from None
        try:
            out, errb, problem = _read_capped(proc, started + limit, self.max_output)
        finally:
            _kill_group(proc)
        elapsed = time.monotonic() - started
        self.log.append(f"{elapsed:7.3f}s {shown}")
        if problem == "timeout":
            raise ProbeFailure(f"{shown}: timed out after {limit:.3g}s", kind="timeout")
        if problem == "too-large":
            raise ProbeFailure(
                f"{shown}: output larger than {self.max_output} bytes (truncated, discarded)",
                kind="too-large",
            )
        rc = proc.returncode if proc.returncode is not None else -1
        if check and rc != 0:
            tail = _tail(errb) or _tail(out)
            reason = f"killed by signal {-rc}" if rc < 0 else f"exit status {rc}"
            if rc == 127 and not self.local:
                kind = "missing"
            else:
                kind = "exit"
            raise ProbeFailure(f"{shown}: {reason}" + (f": {tail}" if tail else ""), kind=kind)
        return Result(out, errb, rc)

    def read_file(self, path: str, max_bytes: int | None = None) -> bytes:
        """Read a file in the environment (locally, or with `cat` through the prefix)."""
        cap = self.max_output if max_bytes is None else max_bytes
        if not self.local:
            return self.run(["cat", path]).stdout[:cap]
        return read_local(Path(path), cap)


def read_local(path: Path, max_bytes: int) -> bytes:
    """Read a regular local file, refusing FIFOs/devices (they could block) and huge files."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ProbeFailure(f"{path}: no such file", kind="missing") from None
    except OSError as exc:
        raise ProbeFailure(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ProbeFailure(f"{path}: not a regular file")
    if st.st_size > max_bytes:
        raise ProbeFailure(f"{path}: larger than {max_bytes} bytes", kind="too-large")
    try:
        with path.open("rb") as fh:
            return fh.read(max_bytes + 1)[:max_bytes]
    except OSError as exc:
        raise ProbeFailure(f"{path}: cannot read: {exc.strerror or exc}") from None


def _read_capped(
    proc: subprocess.Popen[bytes], deadline: float, cap: int
) -> tuple[bytes, bytes, str | None]:
    """Read stdout and stderr until EOF, the deadline or the cap; return (out, err, problem)."""
    assert proc.stdout is not None and proc.stderr is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, "out")
    sel.register(proc.stderr, selectors.EVENT_READ, "err")
    out: list[bytes] = []
    err = bytearray()
    size = 0
    problem: str | None = None
    try:
        while sel.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                problem = "timeout"
                break
            for key, _ in sel.select(timeout=min(remaining, 0.5)):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                if key.data == "out":
                    size += len(chunk)
                    if size > cap:
                        problem = "too-large"
                        break
                    out.append(chunk)
                else:
                    err += chunk
                    if len(err) > 4 * STDERR_TAIL:
                        del err[: len(err) - STDERR_TAIL]
            if problem:
                break
        if problem is None:
            remaining = deadline - time.monotonic()
            try:
                proc.wait(timeout=max(remaining, 0.01))
            except subprocess.TimeoutExpired:
                problem = "timeout"
    finally:
        sel.close()
        proc.stdout.close()
        proc.stderr.close()
    return b"".join(out), bytes(err), problem


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill the process group the command started (it may have left children behind)."""
    if proc.returncode is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - unkillable (D state)
            pass
    else:
        # The leader exited; children that kept running would still hold resources.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _tail(data: bytes) -> str:
    """The last meaningful line of some output, for an error message."""
    text = data[-STDERR_TAIL:].decode("utf-8", "replace").strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


def json_list(text: str | bytes, tool: str) -> list[Any]:
    """The JSON list a tool printed (`pip list`, `conda list`); garbage is a ProbeFailure."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ProbeFailure(
            f"{tool} printed something that is not JSON: {exc}", kind="garbage"
        ) from None
    if not isinstance(data, list):
        raise ProbeFailure(f"{tool} printed JSON that is not a list", kind="garbage")
    return data
