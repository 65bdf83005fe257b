"""Run a notebook top to bottom and render it to HTML: `python notebooks/render.py [NOTEBOOK]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT = REPO_ROOT / "notebooks" / "player_purchases.ipynb"


def render(notebook: Path, out_dir: Path, timeout_s: int = 600) -> Path:
    """Execute every cell (an error stops it) and write `<name>.html` into `out_dir`, and the
    executed notebook, outputs included, as `<name>.ipynb` beside it."""
    document = nbformat.read(notebook, as_version=4)
    NotebookClient(
        document, timeout=timeout_s, kernel_name="python3", resources={"metadata": {"path": REPO_ROOT}}
    ).execute()
    html, _ = HTMLExporter().from_notebook_node(document)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / notebook.with_suffix(".html").name
    target.write_text(html)
    nbformat.write(document, out_dir / notebook.name)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("notebook", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--out-dir", type=Path, default=REPO_ROOT / ".stack" / "reports")
    args = parser.parse_args(argv)
    print(render(args.notebook, args.out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
