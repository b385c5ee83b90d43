"""Run the report notebook for one force (papermill) and render it to HTML (nbconvert).

The only module that knows papermill and nbconvert. Parameters are checked
against the force registry and their types before papermill runs anything, so
a crafted force code or path cannot reach the notebook, and every report is
written atomically: an interrupted run never leaves a half report that looks
complete.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nbformat
import papermill as pm
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbconvert import HTMLExporter
from traitlets import Type
from traitlets.config import Config

from toolkit.config import NOTEBOOKS_DIR, TEMPLATES_DIR
from toolkit.errors import ToolkitError
from toolkit.forces import Force, get_force

__all__ = [
    "REPORT_NOTEBOOK",
    "REPORT_PARAMETERS",
    "ReportFailed",
    "check_report_parameters",
    "render_force_report",
    "render_national_overview",
    "KernelPool",
    "OVERVIEW_NOTEBOOK",
    "OVERVIEW_FILE",
    "notebook_to_html",
    "write_atomically",
]

REPORT_NOTEBOOK = NOTEBOOKS_DIR / "force_report.ipynb"
OVERVIEW_NOTEBOOK = NOTEBOOKS_DIR / "national_overview.ipynb"
OVERVIEW_FILE = "national-overview.html"
REPORT_PARAMETERS = ("force_code", "data_dir")
KERNEL_NAME = "python3"  # pinned: stripping tools may remove a notebook's kernelspec
LOGGER = logging.getLogger(__name__)
# Cells that are scaffolding, not report: dropped from the HTML entirely.
HIDDEN_CELL_TAGS = {"remove-cell", "parameters", "injected-parameters"}


class ReportFailed(ToolkitError):
    """A force's notebook failed; the message says which cell and why."""


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
            self._socket_dir = tempfile.mkdtemp(prefix="toolkit-kernel-")
            self.ip = os.path.join(self._socket_dir, "kernel")
        return await super()._async_pre_start_kernel(**kwargs)

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
# report to the next. Tagged so the HTML leaves it out.
RESET_SOURCE = 'get_ipython().run_line_magic("reset", "-f")\nimport matplotlib.pyplot\n\nmatplotlib.pyplot.close("all")'


# What a warmed-up kernel has done before its first report: the notebook's own imports.
WARM_UP_SOURCE = "from toolkit import report  # noqa: F401"


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
                self._managers[self._managers.index(manager)] = fresh
            manager = fresh
        try:
            yield manager
        finally:
            manager.close_clients()
            self._idle.put(manager)

    def shutdown(self) -> None:
        """Shut every started kernel down now (no grace period) and remove its sockets."""
        for manager in list(self._warming):
            self._finish_warm_up(manager)
        with self._lock:
            for manager in self._managers:
                if manager.has_kernel:
                    run_sync(manager.shutdown_kernel)(now=True)


def check_report_parameters(force_code: object, data_dir: object, out_dir: object) -> tuple[Force, Path, Path]:
    """Check notebook parameters before anything runs.

    Parameters
    ----------
    force_code : object
        Must be one of the 43 ONS force codes (a plain string).
    data_dir : path-like
        Must be an existing folder.
    out_dir : path-like
        The report folder; created if needed.

    Returns
    -------
    force, data_dir, out_dir
        The force and the two folders as absolute paths.

    Raises
    ------
    UnknownForceError, ToolkitError

    Examples
    --------
    >>> check_report_parameters("E23000014'); import os; os.system('x", ".", ".")
    Traceback (most recent call last):
    ...
    toolkit.errors.UnknownForceError: unknown force code "E23000014'); import os; os.system('x": expected an ONS police force area code such as E23000014 (West Midlands)
    """
    force = get_force(force_code)
    if not isinstance(data_dir, (str, os.PathLike)) or not Path(data_dir).is_dir():
        raise ToolkitError(f"data folder {data_dir!r} does not exist")
    if not isinstance(out_dir, (str, os.PathLike)):
        raise ToolkitError(f"output folder {out_dir!r} is not a path")
    return force, Path(data_dir).resolve(), Path(out_dir).resolve()


def write_atomically(path: Path, text: str) -> None:
    """Write text to ``path`` through a temporary file in the same folder, then rename.

    Readers see the old file or the whole new one, never a part.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; reports are for reading
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


_EXPORTERS = threading.local()


def _html_exporter() -> HTMLExporter:
    """This thread's HTML exporter, built once: building one loads and compiles the templates again."""
    exporter = getattr(_EXPORTERS, "exporter", None)
    if exporter is None:
        config = Config()
        config.TagRemovePreprocessor.enabled = True
        config.TagRemovePreprocessor.remove_cell_tags = HIDDEN_CELL_TAGS
        exporter = _EXPORTERS.exporter = HTMLExporter(
            config=config,
            template_name="lab",
            template_file=str(TEMPLATES_DIR / "nbconvert" / "report.html.j2"),
            exclude_input=True,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
        )
    return exporter


def notebook_to_html(notebook: nbformat.NotebookNode, title: str = "Force report") -> str:
    """Render an executed notebook to self-contained HTML without code.

    Images are embedded; input cells, prompts and scaffolding cells are left
    out; no script is loaded from the web, so the page works offline.
    """
    body, _ = _html_exporter().from_notebook_node(notebook, resources={"metadata": {"name": title}})
    return body


def render_force_report(
    force_code: str,
    data_dir: str | Path,
    out_dir: str | Path,
    executed_dir: str | Path | None = None,
    notebook: str | Path = REPORT_NOTEBOOK,
    km: LocalSocketKernelManager | None = None,
) -> Path:
    """Execute the report notebook for one force and write ``<out_dir>/<slug>.html``.

    Parameters
    ----------
    force_code : str
        ONS police force area code.
    data_dir : path-like
        Folder of prepared tables (see :func:`toolkit.runner.prepare_tables`).
    out_dir : path-like
        Where the HTML report goes.
    executed_dir : path-like, optional
        Where the executed notebook is kept for inspection; default ``data_dir/_executed``.
    notebook : path-like
        The template (the shipped force report unless a test gives another).
    km : kernel manager, optional
        A warm kernel to run on (see :class:`KernelPool`); default a fresh kernel.

    Returns
    -------
    Path
        The HTML report.

    Raises
    ------
    ReportFailed
        The notebook raised; the executed notebook is kept for inspection.
    """
    force, data_dir, out_dir = check_report_parameters(force_code, data_dir, out_dir)
    executed_dir = Path(executed_dir) if executed_dir else data_dir / "_executed"
    result = _execute(
        notebook,
        executed_dir / f"{force.slug}.ipynb",
        {"force_code": force.code, "data_dir": str(data_dir)},
        f"{force.name} ({force.code})",
        km,
    )
    target = out_dir / f"{force.slug}.html"
    write_atomically(target, notebook_to_html(result, title=f"{force.official_name}: missing and absent children"))
    return target


def render_national_overview(
    data_dir: str | Path,
    out_dir: str | Path,
    executed_dir: str | Path | None = None,
    notebook: str | Path = OVERVIEW_NOTEBOOK,
    km: LocalSocketKernelManager | None = None,
) -> Path:
    """Execute the national overview notebook and write ``<out_dir>/national-overview.html``.

    Raises
    ------
    ReportFailed
        The notebook raised; the executed notebook is kept for inspection.
    """
    data_dir = Path(data_dir).resolve()
    if not data_dir.is_dir():
        raise ToolkitError(f"the prepared-tables folder {data_dir} does not exist")
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    executed_dir = Path(executed_dir) if executed_dir else data_dir / "_executed"
    result = _execute(
        notebook, executed_dir / "national-overview.ipynb", {"data_dir": str(data_dir)}, "National overview", km
    )
    target = out_dir / OVERVIEW_FILE
    write_atomically(target, notebook_to_html(result, title="Missing and absent children: England and Wales"))
    return target


def _execute(notebook, executed: Path, parameters: dict, label: str, km=None) -> nbformat.NotebookNode:
    """Run a notebook with papermill on a local-socket kernel; a failing cell becomes :class:`ReportFailed`.

    With ``km`` (a warm kernel) the notebook runs on it after a hidden cell that resets the namespace;
    otherwise on a fresh kernel started and stopped for this notebook.
    """
    executed.parent.mkdir(parents=True, exist_ok=True)
    if km is None:
        # Killed as soon as the notebook is done: a graceful shutdown first interrupts the idle kernel
        # (which logs a KeyboardInterrupt to the terminal) and can take seconds.
        source, kernel = (
            str(notebook),
            {"kernel_manager_class": LocalSocketKernelManager, "shutdown_kernel": "immediate"},
        )
    else:
        source = nbformat.read(str(notebook), as_version=4)
        reset = nbformat.v4.new_code_cell(RESET_SOURCE, metadata={"tags": ["remove-cell"]})
        source.cells.insert(0, reset)
        kernel = {"km": km}
    try:
        return pm.execute_notebook(
            source,
            str(executed),
            parameters=parameters,
            kernel_name=KERNEL_NAME,
            cwd=str(executed.parent),
            progress_bar=False,
            log_output=False,
            # Saving after every cell re-serialises the whole notebook some 60 times a report (a third
            # of a warm render); the executed notebook is still written once at the end, or on failure.
            request_save_on_cell_execute=False,
            **kernel,
        )
    except pm.PapermillExecutionError as error:
        raise ReportFailed(
            f"{label}: cell {error.exec_count} raised {error.ename}: {error.evalue}"
            f" (executed notebook kept at {executed})"
        ) from None
