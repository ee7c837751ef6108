"""The core never imports a chat framework or the adapters: ports and adapters stay that way."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "core"
FORBIDDEN = ("telegram", "discord", "bot")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_core_never_imports_chat_frameworks_or_adapters():
    offenders = [
        f"{path.relative_to(CORE.parent)} imports {name}"
        for path in sorted(CORE.rglob("*.py"))
        for name in _imports(path)
        if name.split(".")[0] in FORBIDDEN
    ]
    assert offenders == []


def test_the_architecture_check_sees_a_forbidden_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import telegram\nfrom discord.ext import commands\n")
    assert [n.split(".")[0] for n in _imports(bad)] == ["telegram", "discord"]


def test_litellm_is_imported_lazily_never_at_module_level():
    for path in sorted(CORE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:  # only top-level statements
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(n.split(".")[0] == "litellm" for n in names), path



# The tree shows the flow: storage at the bottom, delivery above it, the job runners on top.
# A layer imports only from below (and from the shared modules at the top level of core/).
LAYERS = {"store": set(), "delivery": {"store"}, "jobs": {"store", "delivery"}}


def _upward_imports(package: str, core: Path = CORE) -> list[str]:
    """Imports in core/<package> of a layer that is not below it."""
    return sorted(
        f"{path.relative_to(core.parent)} imports {name}"
        for path in sorted((core / package).rglob("*.py"))
        for name in _imports(path)
        if name.split(".")[0] == "core" and len(name.split(".")) > 1
        and name.split(".")[1] in LAYERS.keys() - LAYERS[package] - {package}
    )


def test_each_layer_of_core_imports_only_from_the_layers_below_it():
    assert [line for package in LAYERS for line in _upward_imports(package)] == []


def test_the_layer_check_sees_an_import_from_above(tmp_path):
    (tmp_path / "core" / "store").mkdir(parents=True)
    (tmp_path / "core" / "store" / "bad.py").write_text("from core.jobs.pipeline import EpisodePipeline\n")
    assert _upward_imports("store", tmp_path / "core") == ["core/store/bad.py imports core.jobs.pipeline"]
