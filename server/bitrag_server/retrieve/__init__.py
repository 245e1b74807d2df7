"""The whole query path, one module per stage; `pipeline.py` calls them in this order:

  0. route        plan.py        AUTO on a collection whose exact scan measured cheaper -> the exact scan
  1. candidates   candidates.py  the measured Hamming pool: ONE Milvus search (nprobe, filter pushed down), or,
                                 unfiltered where measured cheaper, a scan of the codes in RAM keeping the
                                 rows the live flags (live.u8) mark live: no Milvus call
  2. middle tier  tiers.py       the pool ranked in RAM (sign codes, or 2-/4-bit scalar codes)
  3. rescore      rescore.py     float32 rows read best estimate first, in growing batches, until ...
  4. gate         gate.py        ... the calibrated confidence reaches the threshold (the stopping rule)
  5. fallback     fallback.py    AUTO below the threshold: widen (a second pool, then every code
                                 in RAM), exact (bounded in time), collection (a legacy float32 index)
  6. fetch        pipeline.py    the hits' records from the record store

Fitting the plan and the gate: calibrate.py. Exact scans: exact.py. Top-n selection: topk.py.
Modules here import nothing heavy at package import (domain.py imports gate.py from here).
"""

STAGES = ("route", "candidates", "tier", "rescore", "gate", "fallback", "fetch")
