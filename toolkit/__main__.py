"""``python -m toolkit``: the command-line interface."""

import os
import sys

# jsonschema (under nbformat and papermill) would import rfc3987_syntax to check the "iri" string format, which
# no notebook schema uses; that module compiles some thirty parsers as it is imported, over two seconds of every
# command. The process is the toolkit's own, so it goes without: jsonschema skips the format when it cannot
# import its checker. A library import of the toolkit (JupyterLab, a researcher's script) leaves it alone.
sys.modules.setdefault("rfc3987_syntax", None)

from toolkit.cli import EXIT_INTERRUPTED, main  # noqa: E402

status = main()
if status == EXIT_INTERRUPTED:
    # Everything the run had to undo is undone by now; a render thread still waiting on a kernel that was
    # shut down must not hold the exit up (the interpreter would wait for it).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
raise SystemExit(status)
