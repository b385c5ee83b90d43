"""Faults and concurrent runs: a run holds its folders, swaps in whole, and leaves the last good run when it fails.

Issue 13, items 1-3 and 10-12. The mechanisms (a lock, a swap, a per-run
kernel folder) are tested directly, and through real runs: two at once on
one work folder, a rerun on fewer forces, a run that fails after writing,
a full disk, and a run interrupted (SIGINT, SIGTERM) and killed mid-render.
"""

import errno
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import EXTRACT_DATE

from toolkit import runner
from toolkit.errors import ToolkitError
from toolkit.folders import StagedFolder, hold_folder, staged_folders
from toolkit.publish import kernels

pytestmark = pytest.mark.notebook
# Three small forces: the run is quick, and rendering takes long enough to be interrupted.
FORCES = ["E23000020", "E23000018", "E23000017"]


@pytest.fixture(scope="module")
def tiny_extract(tmp_path_factory, small_extract):
    """The small extract cut to six forces (a run of seconds)."""
    path, _, _ = small_extract
    source = pd.read_csv(path, dtype=str, keep_default_na=False)
    keep = [*FORCES, "E23000016", "E23000015", "E23000012"]
    tiny = tmp_path_factory.mktemp("tiny") / "tiny.csv"
    source[source["force_code"].isin(keep)].to_csv(tiny, index=False)
    return tiny


@pytest.fixture(scope="module")
def last_good(tmp_path_factory, tiny_extract):
    """A finished run on two forces: the work folder and report folder a later run must not spoil."""
    folder = tmp_path_factory.mktemp("last-good")
    started_in = Path.cwd()
    result = runner.run_reports(
        tiny_extract, EXTRACT_DATE, folder / "reports", forces=FORCES[:2], work_dir=folder / "work", progress=False
    )
    assert result.ok
    # Renders side by side on warm kernels once left this process in the (staged) work folder: papermill
    # changed the working folder of the whole process for each, and they restored it out of turn.
    assert Path.cwd() == started_in
    return folder


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with a hash of its bytes (not the runs' lock files, which say who ran last)."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.name.endswith(".lock")
    }


def _copy(last_good: Path, tmp_path: Path) -> Path:
    shutil.copytree(last_good, tmp_path / "run", ignore=shutil.ignore_patterns(".*.lock"))
    return tmp_path / "run"


def _leftovers(folder: Path) -> list[str]:
    """Hidden staging or swap folders a run left beside ``folder``'s contents."""
    return sorted(p.name for p in folder.iterdir() if ".staging-" in p.name or ".previous-" in p.name)


# The mechanisms


def test_a_held_folder_refuses_a_second_holder_naming_the_folder_and_the_run(tmp_path):
    target = tmp_path / "processed"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from toolkit.folders import hold_folder\n"
            f"with hold_folder(Path({str(target)!r}), 'work folder'):\n"
            "    print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ToolkitError) as refused, hold_folder(target, "work folder"):
            pass
        message = str(refused.value)
        assert str(target) in message and f"process {holder.pid}" in message and "in use by another run" in message
    finally:
        holder.kill()
        holder.wait()
    with hold_folder(target, "work folder"):  # the lock went with its process: no stale lock to clear by hand
        pass


def test_a_swap_is_all_or_nothing_and_a_swap_cut_off_is_restored(tmp_path):
    target = tmp_path / "reports"
    target.mkdir()
    (target / "old.html").write_text("old")
    with pytest.raises(RuntimeError), staged_folders([(target, "report folder")]) as (staged,):
        (staged.staging / "new.html").write_text("new")
        raise RuntimeError("the run failed")
    assert sorted(p.name for p in target.iterdir()) == ["old.html"] and not _leftovers(tmp_path)
    # A run killed between the swap's two renames: the old folder is aside, the new one never moved in.
    with hold_folder(target, "report folder"):
        staged = StagedFolder.open(target, "report folder")
        os.rename(target, tmp_path / f".reports.previous-{staged.staging.name.rsplit('-', 1)[1]}")
    with hold_folder(target, "report folder"):
        StagedFolder.open(target, "report folder").abort()
    assert sorted(p.name for p in target.iterdir()) == ["old.html"] and not _leftovers(tmp_path)


# Real runs


def test_two_runs_on_one_work_folder_never_mix_the_second_refuses_at_once(tmp_path, tiny_extract):
    """Two real runs started together on one work folder: one runs, the other is refused at once (item 1).

    In the issue, run B started 15 s after run A and both published, A's pages from B's tables.
    """
    work = tmp_path / "work"
    command = [sys.executable, "-m", "toolkit", "run", "--input", str(tiny_extract), "--extract-date", EXTRACT_DATE]
    runs = {
        name: subprocess.Popen(
            [*command, "--out", str(tmp_path / name), "--work", str(work), "--quiet", "--workers", "1"]
            + ["--forces", *forces],
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, forces in (("a", FORCES[:1]), ("b", FORCES[1:2]))
    }
    finished = {name: (run.wait(timeout=300), run.stderr.read(), run.pid) for name, run in runs.items()}
    codes = sorted(code for code, _, _ in finished.values())
    assert codes == [0, 1], finished
    winner = next(name for name, (code, _, _) in finished.items() if code == 0)
    loser = "b" if winner == "a" else "a"
    refusal = finished[loser][1]
    pid = finished[winner][2]
    assert f"error: the work folder {work} is in use by another run (process {pid}" in refusal, refusal
    assert "--out" in refusal and "Traceback" not in refusal
    assert not (tmp_path / loser).exists()  # refused before anything was written
    published = json.loads((tmp_path / winner / "run.json").read_text())
    assert published["forces"] == (FORCES[:1] if winner == "a" else FORCES[1:2])  # its own, not the other's


def test_a_rerun_on_new_input_and_fewer_forces_replaces_the_whole_publication_set(last_good, tmp_path, tiny_extract):
    """No report of the older run is left beside the new one's index (item 2).

    The new input covers three forces, too few to compare: every comparison says so and no page prints
    ``nan`` (#12 item 7, an extract of 2 to 4 forces end to end).
    """
    folder = _copy(last_good, tmp_path)
    assert {"lincolnshire.html", "derbyshire.html"} <= set(os.listdir(folder / "reports"))
    three = tmp_path / "three.csv"
    source = pd.read_csv(tiny_extract, dtype=str, keep_default_na=False)
    source[source["force_code"].isin(FORCES)].to_csv(three, index=False)
    result = runner.run_reports(
        three, EXTRACT_DATE, folder / "reports", forces=FORCES[2:], workers=1, work_dir=folder / "work", progress=False
    )
    assert result.ok
    for page in (folder / "reports").glob("*.html"):
        html = page.read_text(encoding="utf-8")
        text = re.sub(r"<[^>]+>", " ", re.sub(r"<(style|script)\b.*?</\1>", "", html, flags=re.S))
        assert not re.search(r"\bnan\b", text, flags=re.I), page.name
        assert "The extract covers 3 of the 43 police forces" in text, page.name
    report = (folder / "reports" / "warwickshire.html").read_text(encoding="utf-8")
    assert "no comparison is made" in report and "times the odds of the average force" not in report
    assert set(os.listdir(folder / "reports")) == {
        "README.md",
        "data_quality.csv",
        "findings.json",
        "index.html",
        "warwickshire.html",
        "metrics.csv",
        "national-overview.html",
        "run.json",
        "tables.ods",
        "tables.xlsx",
    }
    assert not _leftovers(folder)
    assert sorted(os.listdir(folder / "work" / "_executed")) == ["national-overview.ipynb", "warwickshire.ipynb"]

    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    for written in [*folder.glob("reports/*.json"), *folder.glob("work/*.json")]:  # strict JSON (item 13)
        json.loads(written.read_text(), parse_constant=refuse)


def test_a_run_that_fails_after_writing_changes_neither_folder(last_good, tmp_path, tiny_extract, monkeypatch):
    """The findings fail after the tables are written: the work folder still matches the reports (item 3)."""
    folder = _copy(last_good, tmp_path)
    before = _snapshot(folder)

    def fail(*args, **kwargs):
        raise RuntimeError("a fault after the tables were written")

    monkeypatch.setattr(runner, "find_issues", fail)
    with pytest.raises(RuntimeError):  # one worker: one kernel started for nothing, not two
        runner.run_reports(
            tiny_extract, EXTRACT_DATE, folder / "reports", forces=FORCES[2:], workers=1, work_dir=folder / "work",
            progress=False,
        )  # fmt: skip
    assert _snapshot(folder) == before and not _leftovers(folder)


def test_a_full_disk_while_rendering_is_one_message_and_leaves_the_last_good_run(
    last_good, tmp_path, tiny_extract, monkeypatch
):
    """ENOSPC on a report is not one force's failure: exit 1 naming the folder; nothing swapped in (item 12)."""
    from toolkit.publish import render

    folder = _copy(last_good, tmp_path)
    before = _snapshot(folder)
    written = render.write_atomically

    def full(path, content):
        if str(path).endswith(".html"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        written(path, content)

    monkeypatch.setattr(render, "write_atomically", full)
    started_in = Path.cwd()
    with pytest.raises(ToolkitError) as error:
        runner.run_reports(
            tiny_extract, EXTRACT_DATE, folder / "reports", forces=FORCES, work_dir=folder / "work", progress=False
        )
    assert str(error.value) == f"cannot write the report folder {folder / 'reports'}: No space left on device"
    assert _snapshot(folder) == before and not _leftovers(folder)
    # Two renders side by side once left this process in one's working folder, which the failed run removed.
    assert Path.cwd() == started_in


@pytest.mark.parametrize("out", ["taken", "taken/reports"])
def test_an_unusable_report_folder_is_refused_before_the_extract_is_read(tmp_path, tiny_extract, monkeypatch, out):
    """A file where the folder (or a folder above it) should be: exit 1 naming it, before any work (item 12)."""
    (tmp_path / "taken").write_text("not a folder")
    out = tmp_path / out

    def never(*args, **kwargs):
        raise AssertionError("the extract was read before the folders were checked")

    monkeypatch.setattr(runner, "read_and_clean", never)
    with pytest.raises(ToolkitError) as error:
        runner.run_reports(tiny_extract, EXTRACT_DATE, out, work_dir=tmp_path / "work", progress=False)
    assert f"{tmp_path / 'taken'} is a file, not a folder" in str(error.value)
    completed = subprocess.run(
        [sys.executable, "-m", "toolkit", "run", "--input", str(tiny_extract), "--extract-date", EXTRACT_DATE]
        + ["--out", str(out), "--work", str(tmp_path / "work"), "--quiet"],
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 1 and f"error: the report folder {out}" in completed.stderr, completed.stderr


@pytest.fixture
def temporary(tmp_path):
    """A temporary folder of the run's own, with a short path (kernel sockets' paths are limited)."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="tk", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _start_run(temporary: Path, tiny_extract: Path, folder: Path, kernel_mode: str) -> subprocess.Popen:
    """A real run in its own session (so a signal to its group is Ctrl-C at a terminal), temp files kept apart."""
    environment = {**os.environ, "TMPDIR": str(temporary)}
    return subprocess.Popen(
        [sys.executable, "-m", "toolkit", "run", "--input", str(tiny_extract), "--extract-date", EXTRACT_DATE]
        + ["--out", str(folder / "reports"), "--work", str(folder / "work"), "--workers", "1"]
        + ["--kernels", kernel_mode, "--forces", *FORCES, "--quiet"],
        env=environment,
        stdout=subprocess.DEVNULL,
        # A file, not a pipe: nothing reads a pipe while the test waits, and a full one would stall the run.
        stderr=open(folder.parent / "stderr.txt", "w"),  # noqa: SIM115 - the process owns it
        start_new_session=True,
    )


def _processes_mentioning(text: str) -> list[int]:
    """Processes whose command line holds ``text`` (a run's workers carry the run's command line)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(entry.name))
        except OSError:  # gone meanwhile
            continue
    return found


def _wait_for_rendering(folder: Path, timeout: float = 120) -> None:
    """Until the first report is written into the run's staging folder."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(folder.glob(".reports.staging-*/*.html")):
            return
        time.sleep(0.05)
    raise AssertionError(f"the run never began rendering: {(folder.parent / 'stderr.txt').read_text()[-2000:]}")


def _kernel_files(temporary: Path) -> set[Path]:
    """The connection files of the run's kernels alive now (each kernel's folder goes when it is shut down)."""
    return set((temporary / f"toolkit-kernels-{os.getuid()}").glob("run-*/toolkit-kernel-*/connection.json"))


def _wait_for_the_kernels_to_start(temporary: Path, timeout: float = 120) -> None:
    """Until every kernel the run has started (fresh kernels are started ahead of their reports) answers.

    A signal that comes while a kernel is still starting waits for the start (seconds on a loaded machine)
    before the run can stop; the test measures how long a run takes to stop, not to start a kernel.
    """
    from jupyter_client import BlockingKernelClient

    answered: set[Path] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = sorted(_kernel_files(temporary) - answered)  # a kernel shut down meanwhile is no longer listed
        if not waiting and answered:
            return
        for connection in waiting:
            client = BlockingKernelClient(connection_file=str(connection))
            try:
                client.load_connection_file()
                client.start_channels()
                client.wait_for_ready(timeout=2)
                answered.add(connection)
            except (OSError, ValueError, RuntimeError):  # not up yet, or shut down: asked again if still listed
                pass
            finally:
                client.stop_channels()
        time.sleep(0.05)
    raise AssertionError("the run's kernels never all answered")


@pytest.mark.parametrize(("sent", "kernel_mode"), [(signal.SIGINT, "warm"), (signal.SIGTERM, "fresh")])
def test_an_interrupted_run_stops_within_seconds_and_leaves_the_last_good_run(
    last_good, tmp_path, temporary, tiny_extract, sent, kernel_mode
):
    """Ctrl-C (to the run's process group) or SIGTERM (to the run alone) mid-render (items 10 and 11)."""
    folder = _copy(last_good, tmp_path)
    before = _snapshot(folder)
    process = _start_run(temporary, tiny_extract, folder, kernel_mode)
    _wait_for_rendering(folder)
    _wait_for_the_kernels_to_start(temporary)
    signalled = time.monotonic()  # from the signal to the exit, with every kernel of the run already started
    if sent == signal.SIGINT:
        os.killpg(process.pid, sent)
    else:
        process.send_signal(sent)
    process.wait(timeout=60)
    stderr = (folder.parent / "stderr.txt").read_text()
    assert time.monotonic() - signalled < 10, stderr
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "interrupted" and "Traceback" not in stderr, stderr
    assert _snapshot(folder) == before and not _leftovers(folder)
    time.sleep(1.5)  # the kernels of ended workers notice their parent has gone
    assert not _processes_mentioning(str(folder / "reports"))  # no worker of the run lives on
    root = temporary / f"toolkit-kernels-{os.getuid()}"
    assert [p.name for p in temporary.iterdir()] == [root.name]  # no tmp*.json, no socket folder about
    left = [p.name for p in root.iterdir()]
    if kernel_mode == "warm":  # the run's own kernels: shut down, their folder removed
        assert not left, left
    else:  # a stopped worker's kernel may outlive it by a moment; its files stay in the run's folder, which
        # the next run removes now its owner is gone (item 11)
        assert all(name.startswith(f"run-{process.pid}-") for name in left), left
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("tempfile.tempdir", str(temporary))
            with kernels.hold_runtime_folder() as mine:
                assert [p.name for p in root.iterdir()] == [mine.name]


def test_a_killed_run_leaves_nothing_the_next_run_does_not_clear(
    last_good, tmp_path, temporary, tiny_extract, monkeypatch
):
    """SIGKILL mid-render: the kernel files and staging folders are cleared by the next run (item 11)."""
    folder = _copy(last_good, tmp_path)
    before = _snapshot(folder)
    process = _start_run(temporary, tiny_extract, folder, "warm")
    _wait_for_rendering(folder)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    root = temporary / f"toolkit-kernels-{os.getuid()}"
    assert [p.name for p in root.iterdir()][0].startswith(f"run-{process.pid}-")  # what a killed run leaves
    assert _leftovers(folder)
    monkeypatch.setattr("tempfile.tempdir", str(temporary))
    with kernels.hold_runtime_folder() as mine:  # the next run: the killed run's kernel files go
        assert [p.name for p in root.iterdir()] == [mine.name]
    for target, purpose in ((folder / "work", "work folder"), (folder / "reports", "report folder")):
        with hold_folder(target, purpose):  # the killed run's locks went with it
            StagedFolder.open(target, purpose).abort()  # and its staging folders go when the next run starts
    assert not _leftovers(folder) and _snapshot(folder) == before


def test_a_render_on_a_warm_kernel_never_changes_the_process_working_folder(tmp_path, monkeypatch):
    """papermill changes the whole process's working folder for a render given one; renders side by side in
    threads then restore it out of turn, leaving the run in a staging folder a failed run removes (every
    later ``os.getcwd()`` fails, as a full test run showed). The notebooks need none: none is given."""
    from toolkit.publish import render

    given = {}

    def execute(*args, **kwargs):
        given.update(kwargs)
        return "executed"

    monkeypatch.setattr(render.pm, "execute_notebook", execute)
    assert render._execute(render.REPORT_NOTEBOOK, tmp_path / "x.ipynb", {}, "a force", km=object()) == "executed"
    assert given["cwd"] is None and given["km"] is not None
    render._execute(render.REPORT_NOTEBOOK, tmp_path / "x.ipynb", {}, "a force")  # a fresh kernel
    assert given["cwd"] is None
