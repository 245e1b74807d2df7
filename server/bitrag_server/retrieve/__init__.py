"""The search path, one module per stage: candidates (Hamming, Milvus) -> rescore (float32)."""
