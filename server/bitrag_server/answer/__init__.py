"""Ask: retrieval -> a prompt with numbered sources -> a streamed answer citing them, cached in Redis.

  types.py     AskQuery / Source / AskSummary (what the servicer converts to protobuf)
  prompt.py    the prompt, source snippets, the citations an answer makes
  generate.py  ChatGenerator (groq or openai SDK, streamed) and ExtractiveGenerator (no API key)
  extractive.py  the offline answer's passages, ranked by the query embedding, capped
  cache.py     AnswerCache: Redis, exact key + optional semantic (Hamming) lookup, circuit breaker
  asker.py     Asker: the pipeline, one async generator of text deltas and a final AskSummary
"""
