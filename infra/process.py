"""Supervising one local Java server: a pid file, a log file, start once, stop for sure.

The servers outlive the command that started them (their own session), so the pid file is
the only link back. A pid file is trusted only when that pid is alive and its command line
names this server's state folder; anything else is stale and removed.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from contract.bilingual import bilingual


class StackError(Exception):
    """A server could not be set up, started, reached or stopped; the message says why."""


_STATE_FLAG = re.compile(r"-Docop\.state=(\S+) ")
"""A server's state folder on its command line (one without spaces: see `identifies`)."""


@dataclass(frozen=True)
class PythonService:
    """One of the project's own long-running commands (the worker, the API), run detached.

    It is recognised by a variable in its environment naming this state folder and the
    service, since its command line (a console script) names neither.
    """

    name: str
    state_dir: Path
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "run" / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "logs" / f"{self.name}.out"

    @property
    def marker(self) -> str:
        return f"OCOP_SERVICE={self.state_dir}:{self.name}"

    def command(self) -> list[str]:
        return self.argv

    def environment(self) -> dict[str, str]:
        return os.environ | self.env | {"OCOP_SERVICE": f"{self.state_dir}:{self.name}"}

    def identifies(self, cmdline: str, environ: str) -> bool:
        return f"{self.marker} " in environ


@dataclass(frozen=True)
class JavaServer:
    """Everything needed to launch and recognise one server process."""

    name: str
    main_class: str
    state_dir: Path  # its command line names it: that is how its process is recognised
    jvm_args: list[str] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    kind: str | None = None
    """A node of a cluster ("kafka-2"): the kind whose jars it runs ("kafka"); its command
    line then names the node too, since its siblings share main class and state folder."""

    @property
    def lib_dir(self) -> Path:
        return self.state_dir / "lib" / (self.kind or self.name)

    @property
    def _node_flag(self) -> list[str]:
        return [f"-Docop.node={self.name}"] if self.kind else []

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "run" / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "logs" / f"{self.name}.out"

    def command(self) -> list[str]:
        return [
            java_binary(),
            *self.jvm_args,
            f"-Docop.state={self.state_dir}",
            *self._node_flag,
            "-cp",
            f"{self.lib_dir}/*",
            self.main_class,
            *self.args,
        ]

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def identifies(self, cmdline: str, environ: str) -> bool:
        """Whether a process's command line is this server's. The state folders are compared
        resolved, whichever way either was named: a copy of the project whose `.state` is a
        symlink to this one's sees its servers, and this one sees servers the copy started,
        rather than taking them for strangers and forgetting their pids."""
        node = f"-Docop.node={self.name} " in cmdline if self.kind else True
        ours = self.state_dir.resolve()
        state = f"-Docop.state={self.state_dir} " in cmdline or any(
            Path(named).resolve() == ours for named in _STATE_FLAG.findall(cmdline)
        )
        return state and self.main_class in cmdline and node


Managed = JavaServer | PythonService


def java_binary() -> str:
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        raise StackError(
            bilingual(
                "cần Java 17 nhưng không tìm thấy `java` (cài openjdk-17-jdk)",
                "Java 17 is needed and no `java` was found (install openjdk-17-jdk)",
            )
        )
    return java


def _is_alive(pid: int) -> bool:
    """True while any thread of the process runs.

    A JVM's main thread can exit during shutdown while other threads still hold its ports:
    the process then shows as a zombie with live threads, and it is not gone yet. Only a
    zombie with no other thread (exited, not yet reaped) counts as gone.
    """
    with contextlib.suppress(ChildProcessError):
        reaped, _ = os.waitpid(pid, os.WNOHANG)  # reap it if it is our own exited child
        if reaped == pid:
            return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        threads = len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return False
    return state != "Z" or threads > 1


def _proc_text(pid: int, what: str) -> str:
    """/proc/<pid>/cmdline or environ, waiting out an exec in progress.

    subprocess launches with vfork, so the parent runs on while the child is still inside
    execve: for a moment both read empty although the process is alive.
    """
    deadline = time.monotonic() + 2.0
    while True:
        try:
            raw = Path(f"/proc/{pid}/{what}").read_bytes()
        except OSError:
            return ""
        if raw or time.monotonic() > deadline or not _is_alive(pid):
            return raw.replace(b"\0", b" ").decode(errors="replace")
        time.sleep(0.01)


def running_pid(server: Managed) -> int | None:
    """The pid of this server if it runs; removes a stale pid file."""
    try:
        pid = int(server.pid_file.read_text().strip())
    except (OSError, ValueError):
        server.pid_file.unlink(missing_ok=True)
        return None
    ours = server.identifies(_proc_text(pid, "cmdline"), _proc_text(pid, "environ") + " ")
    if ours and _is_alive(pid):
        return pid
    server.pid_file.unlink(missing_ok=True)
    return None


def launch(server: Managed) -> int:
    """Start the server detached from this process, its output appended to its log file."""
    server.log_file.parent.mkdir(parents=True, exist_ok=True)
    server.pid_file.parent.mkdir(parents=True, exist_ok=True)
    with server.log_file.open("ab") as log:
        proc = subprocess.Popen(
            server.command(),
            stdin=subprocess.DEVNULL,
            env=server.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server.pid_file.write_text(f"{proc.pid}\n")
    return proc.pid


def terminate(server: Managed, pid: int, timeout_s: float) -> bool:
    """SIGTERM (a clean shutdown: no log recovery next time), SIGKILL after the timeout.

    Returns True when the clean shutdown finished in time.
    """
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _is_alive(pid):
            server.pid_file.unlink(missing_ok=True)
            return True
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    while _is_alive(pid):
        time.sleep(0.1)
    server.pid_file.unlink(missing_ok=True)
    return False


def log_tail(path: Path, lines: int = 25) -> str:
    """The last lines of a server's log, under a heading naming it: what follows an error
    about that server."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"({bilingual(f'chưa có log tại {path}', f'no log at {path}')})"
    heading = bilingual(f"các dòng cuối của {path}", f"last lines of {path}")
    return "\n".join([f"{heading}:", *text.splitlines()[-lines:]])
