"""Explicit CDS Hooks 2.0 wire models: what comes in (request, context, feedback) is parsed and
validated into frozen dataclasses before any handler sees it; what goes out (discovery, cards,
suggestions, actions, links) is built from frozen dataclasses that check the spec's limits and
serialise without null or empty values."""
