"""`cvstream mock`: the loopback Anthropic-compatible server (no SDK import)."""
