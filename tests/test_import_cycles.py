"""No import cycle inside any package of quantdesk: the modules of a package import each other in one direction.

grimp (which import-linter brings) builds the import graph, ``TYPE_CHECKING`` and function-level imports included,
and nominates the imports whose removal would make each package's children acyclic; any nomination is a cycle.
"""

from __future__ import annotations

import grimp
import pytest

GRAPH = grimp.build_graph("quantdesk")
PACKAGES = sorted(m for m in GRAPH.modules if GRAPH.find_children(m))


def cycle_breakers(package: str) -> list[tuple[str, str]]:
    """The imports that would have to go for ``package``'s children to import each other without a cycle."""
    return sorted(GRAPH.nominate_cycle_breakers(package))


def test_every_package_is_checked() -> None:
    assert {"quantdesk", "quantdesk.portfolio", "quantdesk.oms", "quantdesk.gateway", "quantdesk.services"} <= set(
        PACKAGES
    )


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle_inside(package: str) -> None:
    assert cycle_breakers(package) == [], f"import cycle in {package}: remove one of these imports"


def test_the_check_finds_a_cycle() -> None:
    """The check itself: a graph with a two-module cycle inside a package is caught."""
    graph = grimp.ImportGraph()
    for module in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        graph.add_module(module)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.c", imported="pkg.a")
    assert graph.nominate_cycle_breakers("pkg") == set()
    graph.add_import(importer="pkg.b", imported="pkg.a")
    assert graph.nominate_cycle_breakers("pkg") != set()
