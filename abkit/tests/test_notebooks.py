"""Every notebook in notebooks/ runs from top to bottom without an error, and is committed with
its outputs (figures included) so that it reads without being run.

The test executes each notebook in memory and never writes it back. To refresh the committed
outputs after changing a notebook or the library, run from the repository root::

    python abkit/tests/test_notebooks.py

The kernel imports this repository's abkit (``PYTHONPATH`` is the repository root) and runs with
``TQDM_DISABLE=1`` so that no progress bar (with its timings) lands in an output.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import nbclient
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def execute(path: Path) -> Any:
    """The notebook at ``path``, executed in a fresh kernel (the file is not changed)."""
    notebook = nbformat.read(path, as_version=4)
    environment = dict(os.environ, TQDM_DISABLE="1", PYTHONHASHSEED="0")
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    client = nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        record_timing=False,  # no wall-clock times in the committed files
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    client.execute(env=environment)
    return notebook


def test_notebooks_found() -> None:
    assert len(NOTEBOOKS) >= 7


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_committed_with_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code), "run the notebook before committing"
    images = [output for cell in code for output in cell.outputs if "image/png" in output.get("data", {})]
    assert images, "the committed notebook shows its figures"
    # Small figures: base64 PNGs of under ~80 kB each keep the repository light.
    assert max(len(image["data"]["image/png"]) for image in images) < 110_000


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path) -> None:
    before = path.read_bytes()
    executed = execute(path)
    errors = [output for cell in executed.cells if cell.cell_type == "code"
              for output in cell.outputs if output.output_type == "error"]
    assert not errors
    assert path.read_bytes() == before  # the test never rewrites the committed file


if __name__ == "__main__":  # refresh the committed outputs
    for notebook_path in NOTEBOOKS if len(sys.argv) < 2 else [Path(p) for p in sys.argv[1:]]:
        nbformat.write(execute(notebook_path), notebook_path)
        print(f"executed {notebook_path.name}")
