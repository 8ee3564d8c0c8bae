"""`vitaltrust bench clients` runs end to end on a small world and reports its figures."""

from __future__ import annotations

from vitaltrust.bench.clients import bench


async def test_bench_clients_small(pg_admin_url: str, db_url: str) -> None:
    result = await bench(pg_admin_url, db_url, clients=4, metrics=2, requests=5, keep=False)
    assert result["via"].startswith("http, vitaltrust api process")  # a real socket
    assert result["clients"] == 4
    assert result["cached_pairs"] == 8
    for name in ("api_clients", "api_clients_weight_poor", "clients_page", "query_only"):
        figures = result[name]
        assert 0 < figures["median_ms"] <= figures["p95_ms"] <= figures["max_ms"]
    assert isinstance(result["meets_target"], bool)
