"""The floor for `--method stream`: the SDK's messages.stream() helper alone, text to stdout."""

import sys

import anthropic

client = anthropic.Anthropic()
with client.messages.stream(
    model="claude-sonnet-5-5", max_tokens=int(sys.argv[1]), messages=[{"role": "user", "content": "hi"}]
) as stream:
    for text in stream.text_stream:
        sys.stdout.write(text)
        sys.stdout.flush()
    stream.get_final_message()
