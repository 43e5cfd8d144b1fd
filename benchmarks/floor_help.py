"""The floor for `cvstream --help`: a Typer app with two commands printing its --help (Typer's rich help)."""

import typer

app = typer.Typer()


@app.command()
def first(count: int = 1) -> None:
    """The first command."""


@app.command()
def second(name: str = "x") -> None:
    """The second command."""


app()
