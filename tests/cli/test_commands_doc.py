"""docs/commands.md's table agrees with the commands: each cell is derived here from the click command itself."""

from __future__ import annotations

import re
from pathlib import Path

import click

from gpulab_apply.cli import COMMANDS
from gpulab_apply.cli.group import cli

DOC = Path(__file__).resolve().parents[2] / "docs" / "commands.md"
#: every command may exit 0 (success), 1 (error) and 64 (usage error); 70 and 130 are said below the table
COMMON_CODES = {0, 1, 64}
_ROW = re.compile(r"^\| `([a-z]+)` \|(.*)\|\s*$")


def _documented() -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    table = DOC.read_text(encoding="utf-8").split('<a id="table"></a>', 1)[1].split('<a id=', 1)[0]
    for line in table.splitlines():
        match = _ROW.match(line)
        if match:
            rows[match.group(1)] = [cell.strip() for cell in match.group(2).split("|")]
    return rows


def _cells(name: str) -> list[str]:
    """What the table must say of command ``name``: job directory, selectors, formats, exit codes."""
    context = click.Context(cli)
    command = cli.get_command(context, name)
    assert command is not None
    directory, selectors, formats = "—", set(), "—"
    for param in command.params:
        if getattr(param, "hidden", False):  # a deprecated spelling
            continue
        if isinstance(param, click.Argument) and param.name == "paths":
            directory = "`PATHS`"
        if isinstance(param, click.Option) and "--jobs" in param.opts:
            directory = f"`--jobs {param.metavar}`"
        if "SELECTOR" in (param.metavar or ""):
            selectors.add("`SELECTOR`" if isinstance(param, click.Argument) else f"`{param.opts[0]}`")
        if "--format" in getattr(param, "opts", ()) and isinstance(param.type, click.Choice):
            formats = ", ".join(f"`{choice}`" for choice in param.type.choices)
    help_text = " ".join(command.get_help(click.Context(command, info_name=name, parent=context)).split())
    codes = COMMON_CODES | {int(code) for code in re.findall(r"\bexits? (\d+)", help_text, re.IGNORECASE)}
    return [directory, ", ".join(sorted(selectors)) or "—", formats, ", ".join(map(str, sorted(codes)))]


def test_the_table_has_a_row_per_command_in_the_help_order() -> None:
    assert list(_documented()) == [entry.name for entry in COMMANDS]


def test_each_row_says_what_the_command_takes() -> None:
    documented = _documented()
    for entry in COMMANDS:
        directory, selectors, formats, codes = documented[entry.name]
        # selectors in any order in the table
        shown = ", ".join(sorted(part.strip() for part in selectors.split(","))) if selectors != "—" else "—"
        assert [directory, shown, formats, codes] == _cells(entry.name), entry.name


def test_the_readme_links_the_table() -> None:
    readme = (DOC.parent.parent / "README.md").read_text(encoding="utf-8")
    assert "[docs/commands.md](docs/commands.md)" in readme
