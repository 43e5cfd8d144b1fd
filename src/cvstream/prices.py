"""What a run costs, from the user's own price table: `prices.toml` in the user config directory.

Prices are never built in: they change, and differ by account and contract. The table maps a model id
or an alias to dollars per million tokens:

    [claude-sonnet-5-5]
    input = 3.00
    output = 15.00
    cache_write = 3.75   # optional
    cache_read = 0.30    # optional

A run's model takes the price of its exact id, else of its undated id (`claude-haiku-4-5` prices
`claude-haiku-4-5-20251001`), else of an alias that resolves to it: `pricer` is that lookup, for a run
(`launch.price_of`) and for the history (`log stats`) alike. An answer from the Message Batches API costs
`BATCH_RATE` of the standard price. Pure apart from `load_prices` and `pricer`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cvstream.errors import UsageError
from cvstream.usage import Usage

if TYPE_CHECKING:
    from cvstream.config import Names

PER = 1_000_000  # prices are per million tokens
_KINDS = ("input", "output", "cache_write", "cache_read")
_TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")  # Usage's fields, in order
_DATE_SUFFIX = re.compile(r"-\d{8}$")
BATCH_RATE = 0.5  # the Message Batches API bills half the standard price, cache tokens included


@dataclass(frozen=True, slots=True)
class Price:
    """Dollars per million tokens of each kind; a cache price left out is unknown, not zero."""

    input: float
    output: float
    cache_write: float | None = None
    cache_read: float | None = None

    def cost(self, usage: Usage, batch: bool = False) -> float | None:
        """The cost of `usage` (sent one by one, or in a batch), or None when it has cache tokens of a kind
        without a price."""
        total = usage.input_tokens * self.input + usage.output_tokens * self.output
        for tokens, price in ((usage.cache_write_tokens, self.cache_write), (usage.cache_read_tokens, self.cache_read)):
            if tokens:
                if price is None:
                    return None
                total += tokens * price
        return total / PER * (BATCH_RATE if batch else 1.0)

    def worst_case(self, input_tokens: int, max_tokens: int) -> float:
        """The most a request can cost: all its input at the input price and every allowed output token."""
        return (input_tokens * self.input + max_tokens * self.output) / PER


def prices_file(config_dir: Path) -> Path:
    return config_dir / "prices.toml"


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise UsageError(f"{where} must be a number of dollars (0 or more), not {value!r}", "for example input = 3.00")
    return float(value)


def parse_prices(table: Mapping[str, Any], path: Path) -> dict[str, Price]:
    """The checked table: a typo or a missing price is an error naming the file and the entry."""
    prices: dict[str, Price] = {}
    for name, entry in table.items():
        if not isinstance(entry, dict):
            raise UsageError(f"{path}: {name} must be a table ([{name}] with input = ... and output = ...)")
        unknown = sorted(set(entry) - set(_KINDS))
        if unknown:
            raise UsageError(f"{path}: [{name}] has an unknown key {unknown[0]!r}", "the keys are " + ", ".join(_KINDS))
        missing = [kind for kind in ("input", "output") if kind not in entry]
        if missing:
            raise UsageError(f"{path}: [{name}] has no {missing[0]} price", "give input and output per million tokens")
        values = {kind: _number(entry[kind], f"{path}: [{name}] {kind}") for kind in _KINDS if kind in entry}
        prices[name.lower() if not name.startswith("claude-") else name] = Price(**values)
    return prices


def load_prices(config_dir: Path) -> dict[str, Price]:
    """The user's price table ({} when there is none)."""
    from cvstream.config import read_toml

    path = prices_file(config_dir)
    return parse_prices(read_toml(path), path)


def price_for(prices: Mapping[str, Price], model_id: str, aliases: Mapping[str, str]) -> Price | None:
    """The price of `model_id`: by id, by undated id, else by an alias that resolves to it."""
    for key in (model_id, _DATE_SUFFIX.sub("", model_id)):
        if key in prices:
            return prices[key]
    for alias, target in aliases.items():
        if target == model_id and alias in prices:
            return prices[alias]
    return None


def pricer(environ: Mapping[str, str], names: Callable[[], Names]) -> Callable[[str], Price | None]:
    """model id -> its price in the user's prices.toml (`price_for`), with the short names `ask` resolves:
    the models list of `names().endpoint` and the user's aliases. Reads prices.toml once; `names` and the
    models list only if it exists."""
    from cvstream.config import user_config_dir
    from cvstream.models import alias_table, local_catalog

    prices = load_prices(user_config_dir(environ))
    if not prices:
        return lambda _model_id: None
    where = names()
    aliases = alias_table(local_catalog(environ, where.endpoint), where.aliases)
    return lambda model_id: price_for(prices, model_id, aliases)


def recorded_cost(
    environ: Mapping[str, str], names: Callable[[], Names]
) -> Callable[[str, bool, Mapping[str, Any]], float | None]:
    """cost(model, from a batch, the history's token counts) for `log stats`: priced by `pricer`, as a run is;
    a batch answer at `BATCH_RATE`; None for a model without a price."""
    price_of = pricer(environ, names)

    def cost(model: str, batch: bool, counts: Mapping[str, Any]) -> float | None:
        price = price_of(model)
        if price is None:
            return None
        usage = Usage(*(int(counts[kind]) for kind in _TOKENS))
        return price.cost(usage, batch)

    return cost


def template(path: Path, model_ids: Iterable[str]) -> str:
    """A commented prices.toml listing the known models with empty prices, to fill in."""
    lines = [
        f"# cvstream prices: save as {path}",
        "# Dollars per million tokens, from your plan or https://www.anthropic.com/pricing.",
        "# cvstream never guesses a price: only the models given here get a cost on the usage line.",
        "# Uncomment a model and fill in its prices; a table may also be named by an alias ([sonnet]).",
        "",
    ]
    for model_id in model_ids:
        lines += [f"# [{model_id}]", "# input = ", "# output = ", "# cache_write = ", "# cache_read = ", ""]
    return "\n".join(lines)
