"""server.single_threaded_blas: the server's numpy BLAS runs one thread per call (idle BLAS workers
spinning after each call took the cores from the RAM scan's shards)."""

from __future__ import annotations

from threadpoolctl import threadpool_info, threadpool_limits  # type: ignore[import-untyped]

from bitrag_server.server import single_threaded_blas


def test_the_servers_blas_is_single_threaded() -> None:
    blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
    assert blas  # numpy's own BLAS is found, so the limit has something to act on
    with threadpool_limits(limits=None):  # put back whatever the process had, after the test
        single_threaded_blas()
        assert all(i["num_threads"] == 1 for i in threadpool_info() if i["user_api"] == "blas")
