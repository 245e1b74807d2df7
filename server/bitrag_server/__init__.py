"""bitrag server: 1-bit codes in Milvus, float32 rows on disk, rescored search over gRPC."""

__version__ = "0.1.0"
