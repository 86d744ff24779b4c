"""notebooks/error_analysis.ipynb runs top to bottom on the session's test model, whether
Jupyter starts it in notebooks/ or at the repository root."""

import nbformat
import pytest
from nbclient import NotebookClient

from .conftest import REPO


@pytest.mark.parametrize("folder", [REPO / "notebooks", REPO], ids=["notebooks", "root"])
def test_error_analysis_runs(trained, settings, folder, monkeypatch):
    # The kernel inherits this environment: the session's model instead of ./models.
    monkeypatch.setenv("COMPLAINTS_MODELS_DIR", str(settings.models))
    notebook = nbformat.read(REPO / "notebooks" / "error_analysis.ipynb", as_version=4)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute()
    printed = "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )
    assert f"model v{trained.version}" in printed
    assert "share flagged:" in printed and "critical recall with the rules: 1.0" in printed
    assert "| **all** |" in printed  # the training's figures on writers it had not read
    assert "sentirueval2016_telecom_bank_complaint_tweets: 1267 texts" in printed
    assert any(
        output.get("output_type") == "display_data"
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )
