"""docs/architecture.md draws the import graph the code has: a new import between packages fails here
until `hotline archgraph --write` redraws it."""

from __future__ import annotations

from pathlib import Path

from hotline.core import archgraph


def test_the_drawing_in_the_doc_is_the_graph_of_the_code() -> None:
    documented = archgraph.documented(archgraph.DOC.read_text(encoding="utf-8"))
    assert documented is not None, "docs/architecture.md lost its archgraph markers"
    assert documented == archgraph.block(archgraph.graph()), "run `hotline archgraph --write` and commit the doc"


def test_it_sees_imports_in_function_bodies_and_leaves_tests_and_migrations_out(tmp_path: Path) -> None:
    for package, files in {
        "low": {"__init__.py": "", "models.py": "import os\n"},
        "mid": {"__init__.py": "", "services.py": "def f():\n    from hotline.low import models\n"},
        "top": {"__init__.py": "", "views.py": "from hotline import mid\n",
                "tests/__init__.py": "", "tests/test_x.py": "from hotline.other import x\n",
                "migrations/__init__.py": "", "migrations/0001.py": "import hotline.low.models\n"},
        "other": {"__init__.py": ""},
    }.items():
        for name, text in files.items():
            path = tmp_path / package / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    (tmp_path / "settings.py").write_text("from hotline.top import views\n", encoding="utf-8")
    assert archgraph.graph(tmp_path) == {"low": set(), "mid": {"low"}, "other": set(), "top": {"mid"}}


def test_the_drawing_leaves_out_implied_arrows_and_names_cycles() -> None:
    edges = {"a": {"b", "c"}, "b": {"c"}, "c": set()}
    assert archgraph.reduced(edges) == {"a": {"b"}, "b": {"c"}, "c": set()}
    assert archgraph.layers(edges) == [["c"], ["b"], ["a"]]
    assert archgraph.cycles(edges) == []
    assert archgraph.cycles({"a": {"b"}, "b": {"a"}}) == [["a", "b", "a"], ["b", "a", "b"]]
    assert "**Cycles**" in archgraph.drawing({"a": {"b"}, "b": {"a"}})


def test_write_replaces_only_the_block_between_the_markers(tmp_path: Path) -> None:
    doc = tmp_path / "architecture.md"
    doc.write_text(f"before\n{archgraph.BEGIN}\nold\n{archgraph.END}\nafter\n", encoding="utf-8")
    edges = {"a": {"b"}, "b": set()}
    assert archgraph.write(doc, edges) is True
    assert doc.read_text(encoding="utf-8") == f"before\n{archgraph.block(edges)}\nafter\n"
    assert archgraph.write(doc, edges) is False
