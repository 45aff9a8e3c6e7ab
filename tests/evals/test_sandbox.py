"""The code sandbox against hostile programs: each is contained, and the next run still works."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kaiyuan.evals.sandbox import Execution, Limits, run_python

FAST = Limits(wall_s=5, cpu_s=1, memory_mb=256)
PRINT_GROUP = "import os, sys\nprint(os.getpgrp(), flush=True)\n"


def assert_still_healthy() -> None:
    execution = run_python("print('still fine')")
    assert execution.passed, execution
    assert execution.stdout_tail == "still fine\n"


def assert_group_gone(execution: Execution) -> None:
    """The program printed its process group first; nothing of that group may survive."""
    group = int(execution.stdout_tail.split()[0])
    with pytest.raises(ProcessLookupError):
        os.killpg(group, 0)


def assert_refused(execution: Execution, what: str) -> None:
    assert execution.outcome == "failed", execution
    assert "PermissionError" in execution.stderr_tail
    assert what in execution.stderr_tail, execution.stderr_tail


@pytest.fixture(scope="module")
def isolation() -> tuple[str, ...]:
    return run_python("pass").isolation


def test_a_normal_program_passes_with_its_output_captured() -> None:
    execution = run_python("import sys\nprint('hello')\nprint('warning', file=sys.stderr)\n")
    assert execution.outcome == "passed"
    assert execution.exit_code == 0
    assert execution.stdout_tail == "hello\n"
    assert execution.stderr_tail == "warning\n"
    assert {"rlimits", "audit-hook"} <= set(execution.isolation)


def test_an_exception_fails_with_the_programs_own_traceback() -> None:
    execution = run_python("def divide():\n    return 1 / 0\n\ndivide()\n")
    assert execution.outcome == "failed"
    assert execution.exit_code == 1
    assert "ZeroDivisionError" in execution.stderr_tail
    assert "in divide" in execution.stderr_tail
    assert "sandbox.py" not in execution.stderr_tail


def test_threads_and_asyncio_still_work() -> None:
    source = (
        "import asyncio, threading\n"
        "done = []\n"
        "workers = [threading.Thread(target=done.append, args=(i,)) for i in range(4)]\n"
        "[w.start() for w in workers]; [w.join() for w in workers]\n"
        "async def answer():\n    return 42\n"
        "print(len(done), asyncio.run(answer()))\n"
    )
    execution = run_python(source)
    assert execution.passed, execution.stderr_tail
    assert execution.stdout_tail == "4 42\n"


def test_an_infinite_loop_is_stopped_by_the_cpu_limit() -> None:
    execution = run_python("while True:\n    pass\n", Limits(wall_s=20, cpu_s=1))
    assert execution.outcome == "timeout"
    assert execution.exit_code == -signal.SIGXCPU
    assert_still_healthy()


def test_a_sleeping_program_is_killed_at_the_wall_clock_with_its_group() -> None:
    execution = run_python(PRINT_GROUP + "import time\ntime.sleep(60)\n", Limits(wall_s=2))
    assert execution.outcome == "timeout"
    assert execution.exit_code == -signal.SIGKILL
    assert_group_gone(execution)
    assert_still_healthy()


@pytest.mark.parametrize("source", [
    "block = bytearray(2**40)\n",
    "blocks = []\nwhile True:\n    blocks.append(bytearray(32 * 2**20))\n",
], ids=["one-huge-block", "growing"])
def test_a_memory_bomb_hits_the_memory_limit(source: str) -> None:
    execution = run_python(source, FAST)
    assert execution.outcome == "memory", execution
    assert_still_healthy()


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    yield server
    server.close()


@pytest.mark.parametrize("connect", [
    "socket.create_connection(('1.1.1.1', 80), timeout=2)",
    "socket.create_connection(('127.0.0.1', {port}), timeout=2)",
    "socket.socket().connect(('127.0.0.1', {port}))",
], ids=["internet", "localhost-by-helper", "localhost-raw-socket"])
def test_network_connections_are_refused(listener: socket.socket, connect: str) -> None:
    port = listener.getsockname()[1]
    execution = run_python("import socket\n" + connect.format(port=port) + "\n", FAST)
    assert_refused(execution, "sandbox refused socket.")
    with pytest.raises(TimeoutError):
        listener.accept()
    assert_still_healthy()


def test_the_network_namespace_has_only_loopback(isolation: tuple[str, ...]) -> None:
    if "netns" not in isolation:
        pytest.skip("this kernel or container does not allow a new network namespace")
    execution = run_python("print(open('/proc/net/dev').read())")
    interfaces = [line.split(":")[0].strip()
                  for line in execution.stdout_tail.splitlines() if ":" in line]
    assert interfaces == ["lo"]


@pytest.fixture
def outside(tmp_path: Path) -> Iterator[list[Path]]:
    targets = [tmp_path / "escaped.txt", Path(f"/tmp/kaiyuan-escape-{uuid.uuid4().hex}")]
    yield targets
    for target in targets:
        target.unlink(missing_ok=True)


@pytest.mark.parametrize("write", [
    "open({target!r}, 'w').write('pwned')",
    "import pathlib; pathlib.Path({target!r}).write_text('pwned')",
    "import os; os.mkdir({target!r})",
    "import shutil; shutil.copy('/etc/hostname', {target!r})",
], ids=["open", "pathlib", "mkdir", "shutil-copy"])
def test_writes_outside_the_working_directory_are_refused(outside: list[Path],
                                                          write: str) -> None:
    for target in outside:
        execution = run_python(write.format(target=str(target)) + "\n", FAST)
        assert_refused(execution, "outside the working directory")
        assert not target.exists()
    assert_still_healthy()


def test_removing_and_renaming_outside_files_is_refused(tmp_path: Path) -> None:
    keep = tmp_path / "keep.txt"
    keep.write_text("mine")
    for change in (f"os.remove({str(keep)!r})", f"os.rename({str(keep)!r}, 'stolen.txt')",
                   f"os.chmod({str(keep)!r}, 0o777)"):
        execution = run_python(f"import os\n{change}\n", FAST)
        assert_refused(execution, "outside the working directory")
    assert keep.read_text() == "mine"
    assert keep.stat().st_mode & 0o777 != 0o777


def test_a_write_the_guard_cannot_see_is_stopped_by_the_kernel(
        tmp_path: Path, isolation: tuple[str, ...]) -> None:
    if not {"landlock-fs", "nobody"} & set(isolation):
        pytest.skip("neither Landlock nor a switch to user 65534 is available here")
    # The audit event of os.open carries no dir_fd, so the hook sees a harmless relative path.
    source = (f"import os\nfd = os.open({str(tmp_path)!r}, os.O_RDONLY | os.O_DIRECTORY)\n"
              "os.close(os.open('escaped.txt', os.O_WRONLY | os.O_CREAT, dir_fd=fd))\n")
    execution = run_python(source, FAST)
    assert execution.outcome == "failed"
    assert "PermissionError" in execution.stderr_tail
    assert not (tmp_path / "escaped.txt").exists()
    assert_still_healthy()


@pytest.mark.parametrize("bomb", [
    "while True:\n    os.fork()\n",
    "import subprocess\nwhile True:\n    subprocess.Popen([sys.executable, '-c', 'pass'])\n",
    "os.system('sleep 60 &')\n",
], ids=["os.fork", "subprocess", "os.system"])
def test_a_fork_bomb_is_refused(bomb: str) -> None:
    execution = run_python(PRINT_GROUP + bomb, FAST)
    assert_refused(execution, "starting processes is not allowed")
    assert_group_gone(execution)
    assert_still_healthy()


def test_a_fork_bomb_the_guard_cannot_see_is_stopped_by_the_kernel(
        isolation: tuple[str, ...]) -> None:
    if not {"seccomp", "nobody"} & set(isolation):
        pytest.skip("neither seccomp nor a switch to user 65534 is available here")
    # multiprocessing's spawn start method forks through _posixsubprocess: no audit event.
    source = PRINT_GROUP + (
        "import multiprocessing, time\n"
        "if __name__ == '__main__':\n"
        "    spawn = multiprocessing.get_context('spawn')\n"
        "    for _ in range(64):\n"
        "        spawn.Process(target=time.sleep, args=(60,)).start()\n"
        "    print('escaped')\n"
    )
    execution = run_python(source, FAST)
    assert execution.outcome in ("failed", "timeout"), execution
    assert "escaped" not in execution.stdout_tail
    assert_group_gone(execution)
    assert_still_healthy()


@pytest.fixture
def usr1_received() -> Iterator[list[int]]:
    received: list[int] = []
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: received.append(signum))
    yield received
    signal.signal(signal.SIGUSR1, previous)


def test_signals_to_the_test_process_are_refused(usr1_received: list[int],
                                                 isolation: tuple[str, ...]) -> None:
    me = os.getpid()
    execution = run_python(f"import os, signal\nos.kill({me}, signal.SIGUSR1)\n", FAST)
    assert_refused(execution, "signalling other processes is not allowed")
    if {"landlock-scope", "nobody"} & set(isolation) and hasattr(signal, "pidfd_send_signal"):
        # pidfd_send_signal raises no audit event: only the kernel layer refuses it.
        execution = run_python("import os, signal\n"
                               f"signal.pidfd_send_signal(os.pidfd_open({me}), signal.SIGUSR1)\n",
                               FAST)
        assert execution.outcome == "failed"
        assert "PermissionError" in execution.stderr_tail
    assert usr1_received == []
    assert_still_healthy()


def test_the_environment_has_no_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAIYUAN_API_KEY", "sk-kaiyuan-secret")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-secret")
    execution = run_python("import json, os\nprint(json.dumps(dict(os.environ)))\n")
    environment = json.loads(execution.stdout_tail)
    assert set(environment) <= {"PATH", "HOME", "TMPDIR", "LANG"}
    assert "secret" not in execution.stdout_tail


def test_the_working_directory_is_fresh_and_removed_afterwards() -> None:
    source = (
        "import os\n"
        "print(os.getcwd(), sorted(os.listdir('.')))\n"
        "os.makedirs('locked/inner')\n"
        "open('locked/inner/data.txt', 'w').write('x')\n"
        "os.chmod('locked/inner', 0)\n"
        "os.chmod('locked', 0)\n"
    )
    execution = run_python(source)
    assert execution.passed, execution.stderr_tail
    workdir, listing = execution.stdout_tail.split(" ", 1)
    assert listing.strip() == "['program.py']"
    assert not os.path.exists(workdir)
    second = run_python("import os\nprint(os.getcwd())\n")
    assert second.stdout_tail.strip() != workdir


def test_output_is_kept_to_a_bounded_tail() -> None:
    limits = Limits(tail_bytes=1000)
    execution = run_python("for i in range(200_000):\n    print('line', i)\n", limits)
    assert execution.passed
    assert len(execution.stdout_tail.encode()) <= 1000
    assert execution.stdout_tail.endswith("line 199999\n")


def test_a_program_that_cannot_start_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", "/nonexistent/python3")
    execution = run_python("print('never')")
    assert execution.outcome == "error"
    assert execution.exit_code is None
    assert "/nonexistent/python3" in execution.stderr_tail


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="cpu_s"):
        Limits(cpu_s=0)
