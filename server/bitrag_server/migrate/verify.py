"""The import's final verification: counts equal, and for a random sample of source rows the
vector in bitrag bit-identical to the source's (float32 precision kept end to end; with
--normalize, to the normalised source row), the text and the metadata equal (as JSON values)."""

from __future__ import annotations

import json
import random
from typing import Any

import numpy as np

from .policy import VectorPolicy
from .sources import Source

FETCH_IDS = 500  # document ids per Fetch request (the server takes up to 1000)


def _json_value(v: Any) -> Any:
    """JSON has one number type: 2.0 and 2 are the same value (bitrag's wire gives integral
    numbers back as ints); booleans stay booleans."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
        return int(v)
    if isinstance(v, dict):
        return {k: _json_value(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_value(x) for x in v]
    return v


def _canon(md: dict[str, Any]) -> str:
    return json.dumps(_json_value(md), sort_keys=True, ensure_ascii=False, default=str)


def sample_keys(src: Source, n: int, seed: int = 0, batch_size: int = 4096) -> list[Any]:
    """A uniform sample of `n` source keys (reservoir over one pass of keys, no vectors)."""
    rng = random.Random(seed)
    out: list[Any] = []
    seen = 0
    for keys, _docs in src.keys(batch_size):
        for k in keys:
            seen += 1
            if len(out) < n:
                out.append(k)
            else:
                j = rng.randrange(seen)
                if j < n:
                    out[j] = k
    return out


def verify(src: Source, client: Any, collection: str, policy: VectorPolicy, *, sample: int = 1000,
           seed: int = 0) -> dict[str, Any]:
    """`client`: a bitrag.Client. Returns the verification section of the import report."""
    info = client.describe_collection(collection)
    out: dict[str, Any] = {"source_rows": src.info.rows, "bitrag_rows": info.rows}
    out["counts_equal"] = src.info.rows == info.rows
    keys = sample_keys(src, sample, seed) if sample else []
    same_vec = same_text = same_md = missing = 0
    mismatches: list[dict[str, Any]] = []
    for i in range(0, len(keys), FETCH_IDS):
        b = src.fetch(keys[i : i + FETCH_IDS])
        want = policy.expected(b.vectors)
        records, _ = client.fetch(collection, list(dict.fromkeys(b.document_ids)), include_vectors=True)
        got = {r.id: r for r in records}
        for j, cid in enumerate(b.ids):
            r = got.get(cid)
            if r is None:
                missing += 1
                if len(mismatches) < 5:
                    mismatches.append({"id": cid, "problem": "not in bitrag"})
                continue
            vec_ok = r.vector is not None and r.vector.shape == want[j].shape and \
                r.vector.astype("<f4").tobytes() == np.ascontiguousarray(want[j], "<f4").tobytes()
            text_ok = r.text == b.texts[j]
            md_ok = _canon(r.metadata) == _canon(b.metadata[j])
            same_vec += vec_ok
            same_text += text_ok
            same_md += md_ok
            if not (vec_ok and text_ok and md_ok) and len(mismatches) < 5:
                problem = [w for w, ok in (("vector", vec_ok), ("text", text_ok), ("metadata", md_ok)) if not ok]
                m: dict[str, Any] = {"id": cid, "problem": ", ".join(problem)}
                if not vec_ok and r.vector is not None and r.vector.shape == want[j].shape:
                    m["max_abs_diff"] = float(np.abs(r.vector - want[j]).max())
                if not md_ok:
                    m["source_metadata"], m["bitrag_metadata"] = b.metadata[j], r.metadata
                mismatches.append(m)
    n = len(keys)
    out.update({
        "sample": n, "missing": missing, "vectors_bit_identical": same_vec, "texts_equal": same_text,
        "metadata_equal": same_md, "mismatches": mismatches,
        "compared_to": "the source rows normalised (v/|v|)" if policy.normalised_rows else "the source rows as read",
    })
    out["ok"] = bool(out["counts_equal"] and missing == 0 and same_vec == same_text == same_md == n)
    return out
