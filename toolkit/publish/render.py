"""Run the report notebook for one force (papermill) and render it to HTML (nbconvert).

The only module that knows papermill and nbconvert. Parameters are checked
against the force registry and their types before papermill runs anything, so
a crafted force code or path cannot reach the notebook, and every report is
written atomically: an interrupted run never leaves a half report that looks
complete.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import nbformat
import papermill as pm
from nbconvert import HTMLExporter
from nbconvert.exporters.templateexporter import TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.strings import add_anchor
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
from traitlets.config import Config

from toolkit.config import NOTEBOOKS_DIR, TEMPLATES_DIR
from toolkit.errors import ToolkitError
from toolkit.forces import Force, get_force
from toolkit.publish.kernels import KERNEL_NAME, RESET_SOURCE, LocalSocketKernelManager
from toolkit.publish.markup import OVERVIEW_PAGE, escape, list_links
from toolkit.store import WorkFolder, write_atomically

__all__ = [
    "REPORT_NOTEBOOK",
    "REPORT_PARAMETERS",
    "ReportFailed",
    "check_report_parameters",
    "render_force_report",
    "render_national_overview",
    "OVERVIEW_NOTEBOOK",
    "OVERVIEW_FILE",
    "notebook_to_html",
]

REPORT_NOTEBOOK = NOTEBOOKS_DIR / "force_report.ipynb"
OVERVIEW_NOTEBOOK = NOTEBOOKS_DIR / "national_overview.ipynb"
OVERVIEW_FILE = OVERVIEW_PAGE
REPORT_PARAMETERS = ("force_code", "data_dir")
# Cells that are scaffolding, not report: dropped from the HTML entirely.
HIDDEN_CELL_TAGS = {"remove-cell", "parameters", "injected-parameters"}


class ReportFailed(ToolkitError):
    """A force's notebook failed; the message says which cell and why."""


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


_EXPORTERS = threading.local()


class _PageExporter(HTMLExporter):
    """nbconvert's HTML exporter less its last pass, which parses the finished page again with BeautifulSoup.

    That pass gives an ``alt`` to each image without one and a ``tabindex`` to JupyterLab's cells; every
    image on a page here has its own ``alt`` and the template writes no JupyterLab cell, so all it did was
    write the same page out again (attributes sorted, double quotes, ``<meta/>``): the same document,
    parsed, at a third of a warm report's time in the caller, growing with the charts' embedded bytes.
    """

    def from_notebook_node(self, nb, resources=None, **kw):
        """The page, as :meth:`HTMLExporter.from_notebook_node` makes it before re-parsing it."""
        language = nb.metadata.get("language_info", {})
        lexer = language.get("pygments_lexer", language.get("name", None))
        resources = self._init_resources(resources)
        self.register_filter(
            "highlight_code", self.filters.get("highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self))
        )
        self.register_filter(
            "filter_data_type",
            WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata, parent=self, resources=resources),
        )
        return TemplateExporter.from_notebook_node(self, nb, resources, **kw)


def _html_exporter() -> HTMLExporter:
    """This thread's HTML exporter, built once: building one loads and compiles the templates again.

    The template is the toolkit's own page shell (no JupyterLab styles), on nbconvert's ``base`` templates.
    """
    exporter = getattr(_EXPORTERS, "exporter", None)
    if exporter is None:
        config = Config()
        config.TagRemovePreprocessor.enabled = True
        config.TagRemovePreprocessor.remove_cell_tags = HIDDEN_CELL_TAGS
        # The notebook is checked against its schema once, after the preprocessors, not after each of the
        # eleven (most of them disabled, so changing nothing): a tenth of a warm report's time in the caller.
        config.Exporter.optimistic_validation = True
        exporter = _EXPORTERS.exporter = _PageExporter(
            config=config,
            template_name="base",
            template_file=str(TEMPLATES_DIR / "nbconvert" / "report.html.j2"),
            extra_template_paths=[str(TEMPLATES_DIR)],  # the shell and the stylesheet every page shares
            exclude_input=True,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
        )
        exporter.register_filter("list_sections", _list_sections)
    return exporter


def _list_sections(notebook: nbformat.NotebookNode) -> str:
    """A page's contents: a link to each section, a markdown cell's level-2 heading, at the id nbconvert gives it."""
    headings = [
        line[3:].strip()
        for cell in notebook.cells
        if cell.cell_type == "markdown"
        for line in cell.source.splitlines()
        if line.startswith("## ")
    ]
    # nbconvert's own anchor for a heading (what markdown2html writes), read back from the heading it makes.
    anchors = [re.search(r'id="([^"]*)"', add_anchor(f"<h2>{escape(text)}</h2>")).group(1) for text in headings]
    return list_links(
        [(text, "#" + anchor) for text, anchor in zip(headings, anchors, strict=True)], "Contents", "contents"
    )


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
        A warm kernel to run on (see :class:`toolkit.publish.kernels.KernelPool`); default a fresh kernel.

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
    executed_dir = Path(executed_dir) if executed_dir else WorkFolder(data_dir).executed
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
    executed_dir = Path(executed_dir) if executed_dir else WorkFolder(data_dir).executed
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
            progress_bar=False,
            log_output=False,
            # Saving after every cell re-serialises the whole notebook some 60 times a report (a third
            # of a warm render); the executed notebook is still written once at the end, or on failure.
            request_save_on_cell_execute=False,
            # No working folder: papermill would change the whole process's to it for the render, and
            # renders side by side in threads (warm kernels, Dask workers) restore it out of turn, leaving
            # the process in a run's staging folder that a failed run removes. The notebooks need none.
            cwd=None,
            **kernel,
        )
    except pm.PapermillExecutionError as error:
        raise ReportFailed(
            f"{label}: cell {error.exec_count} raised {error.ename}: {error.evalue}"
            f" (executed notebook kept at {executed})"
        ) from None
