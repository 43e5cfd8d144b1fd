"""The floor for `--method create`: the SDK alone, the same create(stream=True) loop, text to stdout.

    python floor_create.py MAX_TOKENS [--pause-gc]

--pause-gc imports the SDK with the cyclic GC paused, as cvstream does (preload.py): the floor for that.
"""

import sys

if "--pause-gc" in sys.argv:
    import gc

    gc.disable()
    import anthropic

    gc.freeze()
    gc.enable()
else:
    import anthropic

client = anthropic.Anthropic()
with client.messages.create(
    model="claude-sonnet-5-5", max_tokens=int(sys.argv[1]), messages=[{"role": "user", "content": "hi"}], stream=True
) as stream:
    for event in stream:
        if event.type == "content_block_delta" and event.delta.type == "text_delta":
            sys.stdout.write(event.delta.text)
            sys.stdout.flush()
