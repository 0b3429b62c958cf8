"""examples/walkthrough.ipynb runs headless (nbclient) and shows HELLO, a 200 OK through the portal, and the picture.

CI installs nbclient, nbformat and ipykernel (``pip install nbclient nbformat ipykernel``);
without them this test fails and says so. Nothing is installed here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Dict, List

import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "walkthrough.ipynb"


def _outputs(nb: Any) -> List[Dict[str, Any]]:
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]


def test_walkthrough_notebook_runs_headless() -> None:
    missing = [m for m in ("nbclient", "nbformat", "ipykernel") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.fail(f"not installed: {' '.join(missing)} (pip install nbclient nbformat ipykernel; CI installs them)",
                    pytrace=False)
    import nbclient
    import nbformat

    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    for cell in nb.cells:  # what is checked below must come from this run, not from the saved file
        if cell.cell_type == "code":
            cell.outputs = []
    client = nbclient.NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
        record_timing=False,
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, if a cell fails

    outputs = _outputs(nb)
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors, errors
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert text.count("HELLO\n") == 2, text  # the bridge and the relay
    assert "HTTP/1.0 200 OK" in text, text  # the portal to python3 -m http.server
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("Node n2" in h for h in html), html
    assert any("Relay n3" in h for h in html) and any("Inlet 127.0.0.1:" in h for h in html), html
    svgs = [o["data"]["image/svg+xml"] for o in outputs if "image/svg+xml" in o.get("data", {})]
    assert len(svgs) == 2, f"expected the bridge's and the portal's pictures, got {len(svgs)}"
    portal = svgs[-1]
    assert portal.lstrip().startswith("<svg")
    for piece in ("n1", "n2", "n3", "relay n3", "relay service: forward_to_n3", "portal 127.0.0.1:", "TCP server"):
        assert piece in portal, piece
    assert "3 total" not in portal and "2 total" in portal  # HEAD and GET: the counters are live
