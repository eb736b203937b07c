"""One stand-in for the Anthropic Messages API, answering from an answerer.

:mod:`.shapes` holds what crosses the wire (a request as seen, an answer, an
error, token usage), :mod:`.sse` how an answer streams, :mod:`.server` the
HTTP server. Two answerers use it: the tests' scripts
(:mod:`hive_dev.fakes.messages_api`) and the demo's polite replies
(:mod:`hive_dev.demo.model`).
"""
