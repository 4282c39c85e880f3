"""The notebooks in notebooks/ run top to bottom on their offline defaults (MiniBind, SmolLM2)."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.slow
@pytest.mark.parametrize("name, pictures", [
    ("audio_image_to_image.ipynb", 3), ("what_does_this_embedding_mean.ipynb", 3), ("what_do_sae_features_mean.ipynb", 1),
])
def test_notebook_runs_and_shows_its_pictures(name, pictures, tmp_path):
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    # Raises CellExecutionError, with the failing cell and its traceback, if any cell fails.
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert len([output for output in outputs if "image/png" in output.get("data", {})]) >= pictures
    assert not [output for output in outputs if output.output_type == "error"]


def test_committed_notebooks_hold_their_outputs():
    for path in NOTEBOOKS.glob("*.ipynb"):
        notebook = nbformat.read(path, as_version=4)
        code = [cell for cell in notebook.cells if cell.cell_type == "code"]
        assert all(cell.execution_count for cell in code), f"{path.name}: run it with jupyter nbconvert --execute --inplace"
        assert any("image/png" in output.get("data", {}) for cell in code for output in cell.outputs), path.name
