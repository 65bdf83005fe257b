"""`make notebook`'s JupyterLab: it starts on localhost and serves the project's notebooks."""

from __future__ import annotations

import secrets

import requests

from stack.notebook import NotebookSettings, jupyter_lab
from tests.helpers.stack import free_port


def test_jupyterlab_serves_the_notebooks_through_its_rest_api(tmp_path):
    token = secrets.token_hex(16)
    settings = NotebookSettings(jupyter_port=free_port())
    with jupyter_lab(settings, token, tmp_path / "jupyter.log") as url:
        auth = {"Authorization": f"token {token}"}
        listing = requests.get(f"{url}/api/contents/notebooks", headers=auth, timeout=10)
        assert listing.status_code == 200
        names = {item["name"] for item in listing.json()["content"]}
        assert {"kpis.ipynb", "player_purchases.ipynb"} <= names
        kpis = requests.get(f"{url}/api/contents/notebooks/kpis.ipynb", headers=auth, timeout=10)
        assert kpis.json()["type"] == "notebook"
        sources = "".join(cell["source"] for cell in kpis.json()["content"]["cells"])
        assert "Retention heatmap" in sources
        assert requests.get(f"{url}/api/contents", timeout=10).status_code == 403
        specs = requests.get(f"{url}/api/kernelspecs", headers=auth, timeout=10).json()
        assert "python3" in specs["kernelspecs"]
    assert not _answers(url)


def _answers(url: str) -> bool:
    try:
        requests.get(f"{url}/api/status", timeout=2)
    except requests.RequestException:
        return False
    return True
