"""Model ids known to the installed SDK, read from its source files without importing it.

`import anthropic` costs about a second; the default model and the completion of `--model` must not
pay for it, so the SDK's `ModelParam` literal and its `DEPRECATED_MODELS` table are parsed with `ast`.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from functools import cache
from pathlib import Path

# Used only if the SDK's files cannot be read (a future layout change); kept current by a test.
FALLBACK_DEFAULT = "claude-sonnet-5-5"

_SONNET = re.compile(r"^claude-sonnet-(\d+)(?:-(\d{1,2}))?(?:-(\d{8}))?$")


def _sdk_dir() -> Path | None:
    spec = importlib.util.find_spec("anthropic")  # finds the package without running its __init__
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def _string_constants(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


@cache
def known_models() -> tuple[str, ...]:
    """Every model id the SDK lists (newest first, as the SDK orders them), deprecated ones included."""
    root = _sdk_dir()
    try:
        if root is not None:
            names = [s for s in _string_constants(root / "types" / "model_param.py") if s.startswith("claude-")]
            if names:
                return tuple(dict.fromkeys(names))
    except (OSError, SyntaxError):
        pass
    return (FALLBACK_DEFAULT,)


@cache
def deprecated_models() -> frozenset[str]:
    root = _sdk_dir()
    try:
        if root is not None:
            tree = ast.parse((root / "_data" / "deprecated_models.py").read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Dict):
                    return frozenset(
                        k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)
                    )
    except (OSError, SyntaxError):
        pass
    return frozenset()


def current_models() -> list[str]:
    """Known ids that are not deprecated: what `--model` completes."""
    deprecated = deprecated_models()
    return [m for m in known_models() if m not in deprecated]


def pick_default(models: list[str]) -> str:
    """The newest Sonnet-class alias (no date suffix preferred) among `models`."""
    best: tuple[int, int, int] | None = None
    choice = FALLBACK_DEFAULT
    for model in models:
        match = _SONNET.match(model)
        if not match:
            continue
        key = (int(match[1]), int(match[2] or 0), 0 if match[3] else 1)
        if best is None or key > best:
            best, choice = key, model
    return choice


def default_model() -> str:
    return pick_default(current_models())
