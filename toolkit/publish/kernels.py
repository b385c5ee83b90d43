"""Warm kernels: one reused Jupyter kernel per worker, reset between reports.

Starting a kernel and importing pandas, statsmodels and seaborn costs about two
seconds; a report's own work, a fraction of that. :class:`KernelPool` lends
each worker a kernel for report after report, with the namespace reset in
between, so reports are byte-identical to those from fresh kernels. Kernels
talk over local (Unix) sockets in a private folder, never TCP ports.

A run keeps every kernel file (the connection file, which holds the kernel's
key, and the sockets) in a folder of its own (:func:`hold_runtime_folder`),
removed when the run ends; a run that was killed leaves its folder behind,
and the next run removes it once its owner is gone.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from traitlets import Type

__all__ = [
    "KERNEL_ARGUMENTS",
    "KERNEL_NAME",
    "KernelPool",
    "LocalSocketKernelManager",
    "RESET_SOURCE",
    "RUNTIME_ENV",
    "hold_runtime_folder",
]

KERNEL_NAME = "python3"  # pinned: stripping tools may remove a notebook's kernelspec
LOGGER = logging.getLogger(__name__)
# The run's folder for kernel files; an environment variable so that worker processes use it too.
RUNTIME_ENV = "TOOLKIT_KERNEL_DIR"
# Unix socket paths are limited to 107 bytes; a kernel's are its folder plus about 30.
_LONGEST_SOCKET_FOLDER = 70
# A report's kernel caches no cell's output: the cache kept each report's alive until the next reset, which
# collected garbage around them first. And it writes no input history, to the one file on disk that every
# kernel of a run (and the user's own IPython) would share, a write after each cell.
KERNEL_ARGUMENTS = ("--InteractiveShell.cache_size=0", "--HistoryManager.enabled=False")


def _runtime_root() -> Path:
    return Path(tempfile.gettempdir()) / f"toolkit-kernels-{os.getuid()}"


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: running
        return True
    return True


@contextmanager
def hold_runtime_folder() -> Iterator[Path]:
    """A private folder for this run's kernel files, removed at the end; clears those of runs that are gone.

    Kernel connection files hold the key that lets a process command the
    kernel; jupyter_client otherwise leaves them (``tmp*.json``) and the
    socket folders in the temporary folder when a run is killed.

    Examples
    --------
    >>> with hold_runtime_folder() as folder:
    ...     os.environ[RUNTIME_ENV] == str(folder), folder.is_dir()
    (True, True)
    >>> folder.exists(), RUNTIME_ENV in os.environ
    (False, False)
    """
    root = _runtime_root()
    root.mkdir(mode=0o700, exist_ok=True)
    for folder in root.glob("run-*"):
        owner = folder.name.split("-")[1]
        if owner.isdigit() and int(owner) != os.getpid() and not _is_running(int(owner)):
            shutil.rmtree(folder, ignore_errors=True)  # its run was killed: nothing will use these again
    mine = Path(tempfile.mkdtemp(prefix=f"run-{os.getpid()}-", dir=root))
    before = os.environ.get(RUNTIME_ENV)
    os.environ[RUNTIME_ENV] = str(mine)
    try:
        yield mine
    finally:
        if before is None:
            os.environ.pop(RUNTIME_ENV, None)
        else:
            os.environ[RUNTIME_ENV] = before
        shutil.rmtree(mine, ignore_errors=True)


class ReadyKernelClient(AsyncKernelClient):
    """A kernel client whose readiness check takes milliseconds rather than a fixed fifth of a second.

    jupyter_client's check ends by waiting 0.2 s for IOPub to fall silent; a
    report opens a client on its kernel, so that wait was a sixth of a warm
    report. This check asks for ``kernel_info`` until the reply and an IOPub
    message have both arrived (so both channels are connected), then drains
    IOPub without waiting. nbclient matches every later message to its request.
    """

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        """Return once the kernel answers on shell and IOPub; raise ``RuntimeError`` if it dies or times out."""
        deadline = time.monotonic() + (timeout if timeout is not None else 60)
        while time.monotonic() < deadline:
            self.kernel_info()
            try:
                reply = await self.shell_channel.get_msg(timeout=1)
            except queue.Empty:
                reply = None
            if reply is not None and reply["msg_type"] == "kernel_info_reply":
                try:
                    await self.iopub_channel.get_msg(timeout=0.05)
                except queue.Empty:
                    continue  # IOPub not subscribed yet: its messages were lost, so ask again
                self._handle_kernel_info_reply(reply)
                while await self.iopub_channel.msg_ready():
                    await self.iopub_channel.get_msg(timeout=0)
                return
            if not await self.is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
        raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")


class LocalSocketKernelManager(AsyncKernelManager):
    """A kernel manager that talks to its kernel over local (Unix) sockets, not TCP ports.

    Kernels started in parallel over TCP can collide on a port and abort a run,
    and TCP traffic is unencrypted; sockets in a private folder avoid both.
    """

    client_factory = Type(ReadyKernelClient, klass=AsyncKernelClient)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.transport = "ipc"
        self._socket_dir: str | None = None  # made when the kernel starts: a manager never used leaves nothing

    async def _async_pre_start_kernel(self, **kwargs):
        if self._socket_dir is None:
            # In the run's folder when there is one; the connection file (the kernel's key) goes with the
            # sockets, so that removing the folder removes every file of the kernel.
            folder = os.environ.get(RUNTIME_ENV)
            if folder and len(folder) > _LONGEST_SOCKET_FOLDER:  # a socket's path has at most 107 bytes
                folder = None
            self._socket_dir = tempfile.mkdtemp(prefix="toolkit-kernel-", dir=folder)
            self.ip = os.path.join(self._socket_dir, "kernel")
            self.connection_file = os.path.join(self._socket_dir, "connection.json")
        given = kwargs.get("extra_arguments") or []
        kwargs["extra_arguments"] = [*given, *(argument for argument in KERNEL_ARGUMENTS if argument not in given)]
        kernel_cmd, launch = await super()._async_pre_start_kernel(**kwargs)
        if not os.environ.get("TOOLKIT_DEBUG"):
            # What a cell prints comes back as messages; the kernel process's own output is only what it
            # says when it cannot start, such as a kernel started as a stopped run removes its folder.
            launch.setdefault("stdout", subprocess.DEVNULL)
            launch.setdefault("stderr", subprocess.DEVNULL)
        return kernel_cmd, launch

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        """Remove the kernel's sockets and their folder too."""
        await super()._async_cleanup_resources(restart=restart)
        if not restart and self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None

    cleanup_resources = _async_cleanup_resources


class WarmKernelManager(LocalSocketKernelManager):
    """A kernel manager lent out for report after report; it closes the clients each report opened."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._clients: list = []
        self.closed = False  # set when the pool shuts down: a render still running must not start it again

    async def _async_pre_start_kernel(self, **kwargs):
        if self.closed:
            raise RuntimeError("the run is stopping: no kernel is started")
        return await super()._async_pre_start_kernel(**kwargs)

    def client(self, **kwargs):
        """A new client for the kernel, remembered so that :meth:`close_clients` can close it."""
        client = super().client(**kwargs)
        self._clients.append(client)
        return client

    def close_clients(self) -> None:
        """Close the channels of every client opened since the last call (nbclient leaves them open)."""
        while self._clients:
            self._clients.pop().stop_channels()


# Run first on a reused kernel: a clean namespace, no figure left open, so no state passes from one
# report to the next. Tagged so the HTML leaves it out. `%reset` collects garbage, and a full collection
# walks every object the kernel holds, the imported libraries' 220,000 too: 0.4 s a report. So what
# survives a reset (the libraries, their caches) is frozen (gc.freeze): later collections walk only what
# later reports make. The report's garbage is collected first, so none of it is frozen with them (a frozen
# object is still freed when nothing refers to it, but never as part of a cycle). The force report's setup
# cell has every expression in a cell show its output (a section is one cell); `%reset` keeps the shell's
# settings, so IPython's default, only a cell's last expression, is restored for the next notebook. This cell
# itself still runs with the last report's setting, so no statement here is an expression with a value.
RESET_SOURCE = (
    'get_ipython().run_line_magic("reset", "-f")\n'
    'get_ipython().ast_node_interactivity = "last_expr"\n'
    "import gc\n"
    "import matplotlib.pyplot\n\n"
    'matplotlib.pyplot.close("all")\n'
    "unreachable = gc.collect()\n"
    "del unreachable\n"
    "gc.freeze()"
)


# What a warmed-up kernel has done before its first report: the notebook's own imports, frozen (as above).
WARM_UP_SOURCE = "import gc\n\nfrom toolkit.publish import report  # noqa: F401\n\ngc.freeze()"


def _warm_kernel(manager: WarmKernelManager, cwd: str) -> None:
    """Start ``manager``'s kernel in ``cwd`` and run :data:`WARM_UP_SOURCE` in it (in a background thread)."""
    try:
        run_sync(manager.start_kernel)(cwd=cwd)
        client = manager.client()
        client.start_channels()
        run_sync(client.wait_for_ready)(timeout=60)
        reply = run_sync(client.execute_interactive)(WARM_UP_SOURCE, store_history=False, timeout=120)
        if reply["content"]["status"] != "ok":
            LOGGER.warning("warming up a kernel: %s", reply["content"].get("evalue", "failed"))
    except Exception as error:  # the report that borrows it starts or replaces the kernel
        LOGGER.warning("warming up a kernel failed: %s: %s", type(error).__name__, error)
    finally:
        manager.close_clients()


class KernelPool:
    """Warm kernels, one per worker, reused for report after report.

    Starting a kernel and importing pandas, statsmodels and seaborn costs about
    two seconds; a report's own work, a fraction of that. Each kernel starts on
    first use and is shut down (immediately) by :meth:`shutdown`. Between
    reports the namespace is reset (:data:`RESET_SOURCE`).

    Examples
    --------
    >>> pool = KernelPool(2)
    >>> with pool.kernel() as km:
    ...     km.has_kernel
    False
    >>> pool.shutdown()
    """

    def __init__(self, size: int):
        self._managers = [WarmKernelManager(kernel_name=KERNEL_NAME) for _ in range(size)]
        self._idle: queue.Queue = queue.Queue()
        for manager in self._managers:
            self._idle.put(manager)
        self._lock = threading.Lock()
        self._warming: dict[WarmKernelManager, threading.Thread] = {}

    def warm_up(self, cwd: str | Path) -> None:
        """Start every kernel now, in the background, and import the report code into it.

        A run calls this before it prepares the tables, so the kernels' start-up
        overlaps that work instead of delaying the first reports. A kernel that
        fails to start here is started (or replaced) when it is first borrowed.
        """
        for manager in self._managers:
            if not manager.has_kernel and manager not in self._warming:
                thread = threading.Thread(target=_warm_kernel, args=(manager, str(cwd)), daemon=True)
                self._warming[manager] = thread
                thread.start()

    def _finish_warm_up(self, manager: WarmKernelManager) -> None:
        thread = self._warming.pop(manager, None)
        if thread is not None:
            thread.join()

    @contextmanager
    def kernel(self) -> Iterator[LocalSocketKernelManager]:
        """Borrow a kernel manager; it goes back to the pool afterwards."""
        manager = self._idle.get()
        self._finish_warm_up(manager)
        if manager.has_kernel and not run_sync(manager.is_alive)():
            # A kernel that died in the last report is replaced by a new manager (its own is spent).
            run_sync(manager.shutdown_kernel)(now=True)
            with self._lock:
                fresh = WarmKernelManager(kernel_name=KERNEL_NAME)
                fresh.closed = manager.closed
                self._managers[self._managers.index(manager)] = fresh
            manager = fresh
        try:
            yield manager
        finally:
            manager.close_clients()
            self._idle.put(manager)

    def shutdown(self) -> None:
        """Shut every started kernel down now (no grace period) and remove its sockets; none starts again."""
        with self._lock:
            for manager in self._managers:
                manager.closed = True
        for manager in list(self._warming):
            self._finish_warm_up(manager)
        with self._lock:
            for manager in self._managers:
                if manager.has_kernel:
                    run_sync(manager.shutdown_kernel)(now=True)
