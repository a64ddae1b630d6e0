"""`make test` runs two pytest-xdist workers with --dist loadgroup: a module whose tests share one
costly run (a module-scoped fixture) is marked xdist_group so that run is made once, on one
worker. pytest-xdist 3.8 stops grouping, silently, under pytest 9.2 (pytest-xdist#1386): each
worker then makes the run again. This test fails instead."""

import pytest


def test_marked_modules_run_on_one_worker(request):
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("only under --dist loadgroup (make test)")
    grouped = [item for item in request.session.items if item.get_closest_marker("xdist_group")]
    assert grouped, "no test is marked xdist_group"
    ungrouped = [item.nodeid for item in grouped if "@" not in item.nodeid]
    assert not ungrouped, f"{len(ungrouped)} grouped tests lost their group, e.g. {ungrouped[0]}"
