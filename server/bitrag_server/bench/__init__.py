"""Benchmarks of the real service over gRPC (`bitrag bench ...`): retrieval quality on BEIR
directories, latency / throughput / memory at scale with baselines, synthetic vectors fitted to
real embeddings, the confidence gate. Reports go to bench/results/ (markdown + JSON + PNG)."""
