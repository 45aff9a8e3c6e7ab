"""Run untrusted Python (model-written code) in a separate, confined process.

`run_python(source, limits)` starts the current interpreter (``sys.executable -I -B``) on this
very file as a bootstrap, in a fresh temporary working directory that is deleted afterwards,
with a minimal environment (``PATH``, ``HOME`` and ``TMPDIR`` pointing at the working
directory, ``LANG``; nothing else, so no ``*_API_KEY``). The bootstrap confines itself, then
executes the program as ``__main__``. The child sets its own limits before the program's
first line rather than in a ``preexec_fn``, which the subprocess documentation calls unsafe
when the caller has threads. Confinement is layered; each layer is applied when the OS
allows it and `Execution.isolation` names the ones that were:

``rlimits``
    setrlimit(2): CPU seconds (SIGXCPU, then SIGKILL one second later), address space,
    file size, no core files, and RLIMIT_NPROC. The kernel ignores RLIMIT_NPROC for root.
``netns``
    unshare(2) with CLONE_NEWNET (plus CLONE_NEWUSER when not root, see user_namespaces(7)):
    the program sees only a loopback interface that is down, so it reaches no host at all,
    not even 127.0.0.1 of the machine.
``nobody``
    when started as root, the bootstrap switches to uid/gid 65534 after handing it the
    working directory, so RLIMIT_NPROC and file permissions bind. It does so only if that
    user can read the interpreter's import path; a Python installed under a private home
    (``/root/.pyenv``) cannot be used by it, and the run keeps uid 0 without capabilities
    (``no-caps``: capset(2) clears them, so hard limits cannot be raised again).
``landlock-fs`` / ``landlock-scope``
    Landlock (kernel 5.13+, docs.kernel.org/userspace-api/landlock.html): creating, writing,
    truncating, renaming and removing files is allowed only beneath the working directory
    (and writing /dev/null); with ABI 6 (kernel 6.12+) signals to processes outside the
    sandbox and abstract Unix sockets are refused as well. It binds root too.
``seccomp``
    a seccomp-BPF filter (docs.kernel.org/userspace-api/seccomp_filter.html) on x86_64 and
    aarch64 that fails fork, vfork, clone without CLONE_THREAD (threads still work), execve,
    execveat, socket, ptrace and io_uring_setup with EPERM, and clone3 with ENOSYS so that
    the C library falls back to clone.
``audit-hook``
    a PEP 578 audit hook installed before the program runs refuses, with a PermissionError
    that names what was refused: network use (``socket.*`` events; a socketpair, which
    asyncio needs, is allowed), process creation (``os.fork``, ``os.forkpty``,
    ``os.system``, ``os.exec``, ``os.posix_spawn``, ``os.spawn``, ``subprocess.Popen``,
    ``pty.spawn``), ctypes, changing resource limits, signals to other processes, and opening
    for writing, creating, renaming, removing or changing files outside the working
    directory.

Threat model. Contained: runaway CPU, memory and wall time (the whole process group is
killed at the deadline), huge files, fork bombs, network access, writes outside the
working directory, signals to other processes, secrets in the caller's environment, files
left behind. The parent reads output through bounded buffers and never waits past the
deadline, whatever the program does.
Not contained: kernel or interpreter exploits (this is not a VM or a gVisor); reads of files
the sandbox user may read, which for a run that keeps uid 0 means every file (run
evaluations as an unprivileged user, or with an interpreter that user 65534 can read);
disk space through many files, each below the size limit, in the working directory;
contention for CPU and memory bandwidth; covert and timing channels. The audit hook alone is
not a security boundary (PEP 578 says so): code can subvert Python-level checks, e.g.
``os.open(name, flags, dir_fd=...)`` hides the directory from the ``open`` event, and
``multiprocessing``'s spawn starts processes without an audit event; the kernel layers are
what hold. On a kernel without Landlock, seccomp or user namespaces, and off Linux, only
the layers listed in `Execution.isolation` apply.
"""

from __future__ import annotations

import builtins
import contextlib
import ctypes
import json
import os
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import types
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Literal

Outcome = Literal["passed", "failed", "timeout", "memory", "killed", "error"]

_NOBODY = 65534
# The bootstrap exits with this when the program raised MemoryError (address-space limit).
_MEMORY_EXIT = 86
_PROGRAM_NAME = "program.py"
_READY = b"ready "


@dataclass(frozen=True)
class Limits:
    """What one run may use. Times in seconds, sizes in MiB."""

    wall_s: float = 10.0
    cpu_s: int = 5
    memory_mb: int = 512
    # Processes and threads of the sandbox's user (RLIMIT_NPROC); threads count too.
    max_processes: int = 16
    max_file_mb: int = 64
    # How much of the end of stdout and of stderr is kept.
    tail_bytes: int = 16_384

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value <= 0:
                raise ValueError(f"Limits.{name} must be positive, got {value!r}")


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Execution:
    """How a run ended. `exit_code` is negative for a signal, None when nothing ran."""

    outcome: Outcome
    exit_code: int | None
    duration_s: float
    stdout_tail: str
    stderr_tail: str
    isolation: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"


def run_python(source: str, limits: Limits = DEFAULT_LIMITS) -> Execution:
    """Run `source` as a program in a confined child interpreter and report how it ended.

    Exit status 0 is "passed", any other status "failed" (a refusal of the sandbox is a
    PermissionError, hence "failed", with the reason in `stderr_tail`); the wall clock or
    the CPU limit give "timeout"; MemoryError, or a kill near the memory limit, "memory";
    another signal "killed"; a sandbox that could not be set up "error". It blocks for up
    to `limits.wall_s` and is safe to call from several threads (async code: use a thread).
    """
    workdir = tempfile.mkdtemp(prefix="kaiyuan-sandbox-")
    try:
        program = os.path.join(workdir, _PROGRAM_NAME)
        with open(program, "w", encoding="utf-8") as handle:
            handle.write(source)
        os.chmod(program, 0o644)
        return _supervise(workdir, program, limits)
    finally:
        _remove_tree(workdir)


def _supervise(workdir: str, program: str, limits: Limits) -> Execution:
    status_read, status_write = os.pipe()
    config = _ChildConfig(
        workdir=workdir,
        program=program,
        status_fd=status_write,
        cpu_s=limits.cpu_s,
        memory_mb=limits.memory_mb,
        max_processes=limits.max_processes,
        max_file_mb=limits.max_file_mb,
    )
    env = {"PATH": os.defpath, "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8"}
    started = time.monotonic()
    try:
        child = subprocess.Popen(
            [sys.executable, "-I", "-B", os.path.abspath(__file__), json.dumps(asdict(config))],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(status_write,),
            start_new_session=True,
        )
    except OSError as exc:
        os.close(status_read)
        return Execution("error", None, 0.0, "", f"could not start {sys.executable}: {exc}")
    finally:
        os.close(status_write)
    try:
        return _watch(child, status_read, limits, started)
    except BaseException:
        if child.returncode is None:  # interrupted: leave nothing running behind
            _kill_group(child.pid)
            child.wait()
        raise
    finally:
        os.close(status_read)


def _watch(child: subprocess.Popen[bytes], status_read: int, limits: Limits,
           started: float) -> Execution:
    assert child.stdout is not None and child.stderr is not None
    stdout, stderr = _Tail(limits.tail_bytes), _Tail(limits.tail_bytes)
    tails = {child.stdout.fileno(): stdout, child.stderr.fileno(): stderr}
    exited = _pump(child.pid, tails, started + limits.wall_s)
    # Kill before reaping: the group id cannot be reused while the leader is a zombie.
    _kill_group(child.pid)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    duration = time.monotonic() - started
    for fd, tail in tails.items():
        tail.drain(fd)
    child.stdout.close()
    child.stderr.close()
    ready = _read_ready(status_read)
    outcome = _classify(
        timed_out=not exited,
        ready=ready is not None,
        exit_code=child.returncode,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_kib=usage.ru_maxrss,
        limits=limits,
    )
    return Execution(
        outcome=outcome,
        exit_code=child.returncode,
        duration_s=duration,
        stdout_tail=stdout.text(),
        stderr_tail=stderr.text(),
        isolation=ready or (),
    )


def _kill_group(pid: int) -> None:
    # The leader is killed by pid as well, in case it left its group.
    for kill in (os.killpg, os.kill):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            kill(pid, signal.SIGKILL)


class _Tail:
    """The last `limit` bytes written to a pipe."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > self.limit:
            del self.data[: len(self.data) - self.limit]

    def drain(self, fd: int) -> None:
        """Take what is left in the pipe without waiting for writers that may never close it."""
        os.set_blocking(fd, False)
        while True:
            try:
                chunk = os.read(fd, 65_536)
            except BlockingIOError:
                return
            if not chunk:
                return
            self.add(chunk)

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


def _pump(pid: int, tails: dict[int, _Tail], deadline: float) -> bool:
    """Read output until the child exits (True) or the deadline passes (False)."""
    selector = selectors.DefaultSelector()
    for fd in tails:
        selector.register(fd, selectors.EVENT_READ)
    # A pidfd becomes readable when the process exits (Linux 5.3+); elsewhere, poll.
    pidfd = os.pidfd_open(pid) if hasattr(os, "pidfd_open") else None
    if pidfd is not None:
        selector.register(pidfd, selectors.EVENT_READ)
    try:
        while True:
            if pidfd is None and _has_exited(pid):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            for key, _ in selector.select(remaining if pidfd is not None else min(remaining, 0.05)):
                if key.fd == pidfd:
                    return True
                chunk = os.read(key.fd, 65_536)
                if chunk:
                    tails[key.fd].add(chunk)
                else:
                    selector.unregister(key.fd)
    finally:
        selector.close()
        if pidfd is not None:
            os.close(pidfd)


def _has_exited(pid: int) -> bool:
    # WNOWAIT leaves the zombie in place so the process group can still be killed safely.
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _read_ready(status_read: int) -> tuple[str, ...] | None:
    """The isolation layers the bootstrap reported before running the program, or None."""
    os.set_blocking(status_read, False)
    try:
        message = os.read(status_read, 4096)
    except BlockingIOError:
        return None
    if not message.startswith(_READY):
        return None
    return tuple(name for name in message[len(_READY):].decode().split(",") if name)


def _classify(*, timed_out: bool, ready: bool, exit_code: int, cpu_s: float, peak_kib: int,
              limits: Limits) -> Outcome:
    if timed_out:
        return "timeout"
    if not ready:
        return "error"
    if exit_code == 0:
        return "passed"
    if exit_code == _MEMORY_EXIT:
        return "memory"
    if exit_code > 0:
        return "failed"
    if -exit_code == signal.SIGXCPU or (-exit_code == signal.SIGKILL and cpu_s >= limits.cpu_s):
        return "timeout"
    if peak_kib >= 0.9 * limits.memory_mb * 1024:
        return "memory"
    return "killed"


def _remove_tree(path: str) -> None:
    # The program may have left directories without permissions; restore them first.
    for root, dirs, _ in os.walk(path):
        for name in dirs:
            full = os.path.join(root, name)
            with contextlib.suppress(OSError):
                if not os.path.islink(full):
                    os.chmod(full, 0o700)
    shutil.rmtree(path, ignore_errors=True)


# --- the child side: this file run as a script by `_supervise` -----------------------------


@dataclass(frozen=True)
class _ChildConfig:
    workdir: str
    program: str
    status_fd: int
    cpu_s: int
    memory_mb: int
    max_processes: int
    max_file_mb: int


def _child_main(argv: list[str]) -> None:
    config = _ChildConfig(**json.loads(argv[1]))
    try:
        layers = _confine(config)
    except Exception as exc:  # never run the program half-confined
        os.write(2, f"sandbox setup failed: {exc!r}\n".encode())
        os._exit(1)
    os.write(config.status_fd, _READY + ",".join(layers).encode())
    os.close(config.status_fd)
    _run_program(config.program)


def _confine(config: _ChildConfig) -> list[str]:
    """Apply every layer the OS allows, in an order where each step still has what it needs."""
    layers = ["rlimits"]
    _lower_limit(resource.RLIMIT_CORE, 0, 0)
    _lower_limit(resource.RLIMIT_FSIZE, config.max_file_mb * 2**20, config.max_file_mb * 2**20)
    _lower_limit(resource.RLIMIT_NPROC, config.max_processes, config.max_processes)
    _lower_limit(resource.RLIMIT_CPU, config.cpu_s, config.cpu_s + 1)
    libc = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
    if libc is not None and _unshare_network(libc):
        layers.append("netns")
    if os.geteuid() == 0:
        if _nobody_can_run(config.workdir):
            _become_nobody()
            layers.append("nobody")
        elif libc is not None:
            _drop_capabilities(libc)
            layers.append("no-caps")
    if libc is not None:
        _check(libc.prctl(_PR_SET_NO_NEW_PRIVS, _ulong(1), _ulong(0), _ulong(0), _ulong(0)),
               "prctl(PR_SET_NO_NEW_PRIVS)")
        layers += _landlock(libc, config.workdir)
        if _seccomp(libc):
            layers.append("seccomp")
    # Last, so that setting up the other layers is not starved of memory.
    _lower_limit(resource.RLIMIT_AS, config.memory_mb * 2**20, config.memory_mb * 2**20)
    _install_guard(config.workdir)
    layers.append("audit-hook")
    return layers


def _lower_limit(which: int, soft: int, hard: int) -> None:
    # An unprivileged process cannot raise its hard limit: never ask for more than it has.
    current = resource.getrlimit(which)[1]
    if current != resource.RLIM_INFINITY:
        soft, hard = min(soft, current), min(hard, current)
    resource.setrlimit(which, (soft, hard))


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _ulong(value: int) -> ctypes.c_ulong:
    return ctypes.c_ulong(value)


_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000


def _unshare_network(libc: ctypes.CDLL) -> bool:
    uid, gid = os.getuid(), os.getgid()
    flags = _CLONE_NEWNET if uid == 0 else _CLONE_NEWUSER | _CLONE_NEWNET
    if libc.unshare(ctypes.c_int(flags)) != 0:
        return False
    if flags & _CLONE_NEWUSER:
        # Unmapped ids cannot create files (EOVERFLOW): map ours onto themselves.
        for name, text in (("uid_map", f"{uid} {uid} 1"), ("setgroups", "deny"),
                           ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w") as handle:
                handle.write(text)
    return True


def _nobody_can_run(workdir: str) -> bool:
    """Hand the working directory to 65534 and check that it can read the import path."""
    needed = [path for path in sys.path if path and os.path.isdir(path)] + [workdir]
    owner = os.stat(workdir)
    try:
        os.chown(workdir, _NOBODY, _NOBODY)
        os.setegid(_NOBODY)
        os.seteuid(_NOBODY)
        for path in needed:
            os.listdir(path)
    except OSError:  # no such user switch here (a container), or a path it cannot read
        usable = False
    else:
        usable = True
    finally:
        os.seteuid(0)
        os.setegid(0)
    if not usable:
        with contextlib.suppress(OSError):
            os.chown(workdir, owner.st_uid, owner.st_gid)
    return usable


def _become_nobody() -> None:
    os.setgroups([])
    os.setgid(_NOBODY)
    os.setuid(_NOBODY)


class _CapHeader(ctypes.Structure):
    _fields_: ClassVar = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_: ClassVar = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                          ("inheritable", ctypes.c_uint32)]


def _drop_capabilities(libc: ctypes.CDLL) -> None:
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3: two 32-bit words
    data = (_CapData * 2)()
    _check(libc.capset(ctypes.byref(header), data), "capset")


_PR_SET_NO_NEW_PRIVS = 38
_SYS_LANDLOCK_CREATE_RULESET = 444  # the same number on every architecture
_SYS_LANDLOCK_ADD_RULE = 445
_SYS_LANDLOCK_RESTRICT_SELF = 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1
_LL_WRITE_FILE = 1 << 1
# remove dir/file, make char/dir/reg/sock/fifo/block/sym (ABI 1)
_LL_CHANGE_TREE = sum(1 << bit for bit in (4, 5, 6, 7, 8, 9, 10, 11, 12))
_LL_REFER = 1 << 13  # ABI 2
_LL_TRUNCATE = 1 << 14  # ABI 3
_LL_SCOPE = 1 | 2  # abstract Unix sockets and signals (ABI 6)


class _RulesetAttr(ctypes.Structure):
    _fields_: ClassVar = [("handled_access_fs", ctypes.c_uint64),
                          ("handled_access_net", ctypes.c_uint64),
                          ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_: ClassVar = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _landlock(libc: ctypes.CDLL, workdir: str) -> list[str]:
    syscall = libc.syscall
    syscall.restype = ctypes.c_long
    abi = syscall(ctypes.c_long(_SYS_LANDLOCK_CREATE_RULESET), None, ctypes.c_size_t(0),
                  ctypes.c_uint32(_LANDLOCK_CREATE_RULESET_VERSION))
    if abi < 1:
        return []
    truncate = _LL_TRUNCATE if abi >= 3 else 0
    writes = _LL_WRITE_FILE | _LL_CHANGE_TREE | truncate | (_LL_REFER if abi >= 2 else 0)
    scoped = abi >= 6
    attr = _RulesetAttr(writes, 0, _LL_SCOPE if scoped else 0)
    # Older kernels reject fields they do not know, unless the size leaves them out.
    size = ctypes.sizeof(attr) if scoped else 8
    ruleset = syscall(ctypes.c_long(_SYS_LANDLOCK_CREATE_RULESET), ctypes.byref(attr),
                      ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        return []
    try:
        for path, access in ((workdir, writes), ("/dev/null", _LL_WRITE_FILE | truncate)):
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = _PathBeneathAttr(access, fd)
                _check(syscall(ctypes.c_long(_SYS_LANDLOCK_ADD_RULE), ctypes.c_int(ruleset),
                               ctypes.c_int(_LANDLOCK_RULE_PATH_BENEATH), ctypes.byref(rule),
                               ctypes.c_uint32(0)), f"landlock_add_rule({path})")
            finally:
                os.close(fd)
        _check(syscall(ctypes.c_long(_SYS_LANDLOCK_RESTRICT_SELF), ctypes.c_int(ruleset),
                       ctypes.c_uint32(0)), "landlock_restrict_self")
    finally:
        os.close(ruleset)
    return ["landlock-fs", "landlock-scope"] if scoped else ["landlock-fs"]


@dataclass(frozen=True)
class _SyscallTable:
    audit_arch: int
    denied: tuple[int, ...]  # fork, vfork, execve, execveat, socket, ptrace, io_uring_setup
    clone: int
    clone3: int
    x32: bool  # x86_64 also accepts x32 numbers (bit 30 set): refuse them all


_SYSCALLS = {
    "x86_64": _SyscallTable(0xC000003E, (57, 58, 59, 322, 41, 101, 425), 56, 435, True),
    "aarch64": _SyscallTable(0xC00000B7, (221, 281, 198, 117, 425), 220, 435, False),
}
_CLONE_THREAD = 0x00010000
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_RET_ALLOW = 0x7FFF0000
_RET_EPERM = 0x00050000 | 1
_RET_ENOSYS = 0x00050000 | 38
_LD_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_JSET = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_RET = 0x06  # BPF_RET | BPF_K
_NR, _ARCH, _ARG0 = 0, 4, 16  # offsets in struct seccomp_data (low word of args[0])


class _SockFilter(ctypes.Structure):
    _fields_: ClassVar = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8),
                          ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_: ClassVar = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def _seccomp_program(table: _SyscallTable) -> list[tuple[int, int, int, int]]:
    """BPF for the filter; each check is `jump-if-equal to the next line, else skip it`."""
    program = [(_LD_ABS, 0, 0, _ARCH), (_JEQ, 1, 0, table.audit_arch), (_RET, 0, 0, _RET_EPERM),
               (_LD_ABS, 0, 0, _NR)]
    if table.x32:
        program += [(_JGE, 0, 1, 0x40000000), (_RET, 0, 0, _RET_EPERM)]
    for number in table.denied:
        program += [(_JEQ, 0, 1, number), (_RET, 0, 0, _RET_EPERM)]
    program += [(_JEQ, 0, 1, table.clone3), (_RET, 0, 0, _RET_ENOSYS)]
    program += [
        (_JEQ, 0, 3, table.clone),
        (_LD_ABS, 0, 0, _ARG0),
        (_JSET, 1, 0, _CLONE_THREAD),
        (_RET, 0, 0, _RET_EPERM),
        (_RET, 0, 0, _RET_ALLOW),
    ]
    return program


def _seccomp(libc: ctypes.CDLL) -> bool:
    table = _SYSCALLS.get(os.uname().machine)
    if table is None:
        return False
    program = _seccomp_program(table)
    filters = (_SockFilter * len(program))(*(_SockFilter(*line) for line in program))
    fprog = _SockFprog(len(program), ctypes.cast(filters, ctypes.POINTER(_SockFilter)))
    # Fails on kernels built without seccomp filters: then this layer is simply absent.
    return libc.prctl(_PR_SET_SECCOMP, _ulong(_SECCOMP_MODE_FILTER), ctypes.byref(fprog),
                      _ulong(0), _ulong(0)) == 0


_PROCESS_EVENTS = frozenset({"os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn",
                             "os.spawn", "os.startfile", "subprocess.Popen", "pty.spawn"})
# event -> positions of (path, dir_fd) pairs among its arguments; dir_fd None: no such argument
_PATH_EVENTS: dict[str, tuple[tuple[int, int | None], ...]] = {
    "os.remove": ((0, 1),),
    "os.rmdir": ((0, 1),),
    "os.mkdir": ((0, 2),),
    "os.chmod": ((0, 2),),
    "os.chown": ((0, 3),),
    "os.utime": ((0, 3),),
    "os.truncate": ((0, None),),
    "os.setxattr": ((0, None),),
    "os.removexattr": ((0, None),),
    "os.symlink": ((1, 2),),
    "os.rename": ((0, 2), (1, 3)),
    "os.link": ((0, 2), (1, 3)),
}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
_AF_UNIX = 1  # socketpair() wraps its ends with this family
_WRITABLE_DEVICES = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr"})


def _install_guard(workdir: str) -> None:
    """Install the audit hook. It keeps its own references: the program may patch modules."""
    realpath, join, isabs, readlink = os.path.realpath, os.path.join, os.path.isabs, os.readlink
    fsdecode = os.fsdecode
    own_ids = {"os.kill": os.getpid, "os.killpg": os.getpgrp}
    refuse_error = PermissionError
    root = realpath(workdir)
    prefix = root + os.sep

    def refuse(event: str, reason: str) -> None:
        raise refuse_error(f"sandbox refused {event}: {reason}")

    def resolve(target: Any, dir_fd: Any) -> str:
        if isinstance(target, int):
            return realpath(readlink(f"/proc/self/fd/{target}"))
        path = fsdecode(target)
        if dir_fd is not None and dir_fd >= 0 and not isabs(path):
            path = join(readlink(f"/proc/self/fd/{dir_fd}"), path)
        return realpath(path)

    def inside(target: Any, dir_fd: Any = None) -> bool:
        try:
            path = resolve(target, dir_fd)
        except (OSError, TypeError, ValueError):
            return False
        return path == root or path.startswith(prefix)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path, _, flags = args
            if (isinstance(flags, int) and flags & _WRITE_FLAGS and not isinstance(path, int)
                    and fsdecode(path) not in _WRITABLE_DEVICES and not inside(path)):
                refuse(event, f"writing outside the working directory ({fsdecode(path)})")
        elif event in _PATH_EVENTS:
            for path_at, fd_at in _PATH_EVENTS[event]:
                if not inside(args[path_at], None if fd_at is None else args[fd_at]):
                    refuse(event, f"changing files outside the working directory ({args[path_at]})")
        elif event.startswith("socket."):
            if not (event == "socket.__new__" and args[1] == _AF_UNIX):
                refuse(event, "the network is not available")
        elif event in _PROCESS_EVENTS:
            refuse(event, "starting processes is not allowed")
        elif event.startswith("ctypes."):
            refuse(event, "ctypes is not available")
        elif event in ("resource.setrlimit", "resource.prlimit"):
            refuse(event, "resource limits are fixed")
        elif event in own_ids and args[0] not in (0, own_ids[event]()):
            refuse(event, "signalling other processes is not allowed")
        elif event == "sqlite3.connect" and args[0] not in (":memory:", "") \
                and not inside(args[0]):
            refuse(event, "databases live in the working directory")

    sys.addaudithook(hook)


def _run_program(path: str) -> None:
    """Execute the program as a fresh `__main__`, so it cannot reach the bootstrap's globals."""
    main = types.ModuleType("__main__")
    main.__file__ = path
    main.__builtins__ = builtins
    sys.modules["__main__"] = main
    sys.argv = [path]
    try:
        with open(path, encoding="utf-8") as handle:
            source = handle.read()
        exec(compile(source, path, "exec", dont_inherit=True), main.__dict__)
    except MemoryError:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        os.write(2, b"MemoryError: the program ran out of its memory limit\n")
        os._exit(_MEMORY_EXIT)
    except SystemExit:
        raise
    except BaseException as exc:
        # Leave this frame out of the traceback: it is the sandbox's, not the program's.
        traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)
        sys.exit(1)


if __name__ == "__main__":
    _child_main(sys.argv)
