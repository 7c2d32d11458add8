"""The docs name only settings and flags that exist.

Every `TRAYGO_*` variable in README.md and docs/*.md must be declared in traygo/config.py or read
by the Python sources, and every `--flag` of a `traygo ...` command line (or of a docs table with
a "flag" column) must be accepted by the command it is written with. Flags of other tools (make,
pytest, pip, cdk, podman, aws) are never collected: only `traygo` command lines and flag tables.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click

from traygo import config
from traygo.cli import _unavailable, cli

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIRS = ("traygo", "training", "scraper", "lambdas", "infra")
VARIABLE = re.compile(r"TRAYGO_[A-Z0-9_]+")
FLAG = re.compile(r"--[a-z0-9][a-z0-9-]*")
VERB = re.compile(r"[a-z][a-z0-9-]*")
CODE_SPAN = re.compile(r"`([^`]+)`")
SHELL_COMMENT = re.compile(r"\s#\s.*$")
# A flag's verbs in a table cell: "`--store` (train, backbone import, models)".
CELL_VERBS = re.compile(r"\(([a-z ,-]+)\)\s*$")


@dataclass(frozen=True)
class FlagMention:
    """`flag` written at `where` for the command `verb` (words after `traygo`); None: any."""

    where: str
    verb: tuple[str, ...] | None
    flag: str


# --- reading the docs ---------------------------------------------------------------------


def doc_paths() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _fenced_lines(lines: list[str]) -> Iterator[tuple[int, str, bool]]:
    """(line number, text, inside a ``` block), with shell `\\` continuations joined."""
    fenced, pending, start = False, "", 0
    for number, line in enumerate(lines, 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced and line.rstrip().endswith("\\"):
            pending, start = pending + line.rstrip()[:-1] + " ", start or number
            continue
        yield (start or number), pending + line, fenced
        pending, start = "", 0


def code_snippets(text: str) -> Iterator[tuple[int, str]]:
    """Code blocks' lines (less shell comments) and inline code spans, with line numbers."""
    for number, line, fenced in _fenced_lines(text.splitlines()):
        if fenced:
            yield number, SHELL_COMMENT.sub("", line)
        else:
            for span in CODE_SPAN.findall(line):
                yield number, span


def _starts_command(words: list[str], index: int) -> bool:
    """`traygo` (or a path to it) as a program, not as an option's value (`--stack-name traygo`)."""
    word = words[index]
    after_option = index > 0 and words[index - 1].startswith("-")
    return (word == "traygo" or word.endswith("/traygo")) and not after_option


def traygo_commands(snippet: str) -> Iterator[list[str]]:
    """The words after each `traygo` in a snippet, up to the end of its sentence or command."""
    words = snippet.split()
    starts = [i for i in range(len(words)) if _starts_command(words, i)]
    for start, end in zip(starts, [*starts[1:], len(words)], strict=False):
        command: list[str] = []
        for word in words[start + 1 : end]:
            command.append(word)
            if word.endswith((",", ";")):
                break  # prose goes on: "run traygo scrape ... first, or ..."
        yield command


def _table_rows(lines: list[str]) -> Iterator[tuple[int, list[str], list[str]]]:
    """(line number, header cells, row cells) for each body row of each table."""
    header: list[str] = []
    for number, line in enumerate(lines, 1):
        if not line.startswith("|"):
            header = []
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if set(line) <= set("|-: "):
            continue
        if not header:
            header = cells
            continue
        yield number, header, cells


def table_flag_mentions(doc: str, text: str) -> Iterator[FlagMention]:
    """Flags in the columns headed "flag…", for the verbs in parentheses after them if any."""
    for number, header, cells in _table_rows(text.splitlines()):
        for title, cell in zip(header, cells, strict=False):
            if "flag" not in title.lower():
                continue
            spans = [span for span in CODE_SPAN.findall(cell) if span.startswith("--")]
            verbs = CELL_VERBS.search(cell)
            targets = [tuple(v.split()) for v in verbs.group(1).split(",")] if verbs else [None]
            for span in spans:
                for flag in FLAG.findall(span):
                    for verb in targets:
                        yield FlagMention(f"{doc}:{number}", verb, flag)


def command_flag_mentions(doc: str, text: str, root: click.Group) -> Iterator[FlagMention]:
    """Each flag of each `traygo ...` command line or span, with the command it belongs to."""
    for number, snippet in code_snippets(text):
        for words in traygo_commands(snippet):
            for verb, flag in resolve(root, words):
                yield FlagMention(f"{doc}:{number}", verb, flag)


def variable_mentions(doc: str, text: str) -> Iterator[tuple[str, str]]:
    for number, line in enumerate(text.splitlines(), 1):
        for name in VARIABLE.findall(line):
            yield f"{doc}:{number}", name


# --- the command tree ---------------------------------------------------------------------


def _context(command: click.Command) -> click.Context:
    return click.Context(command, info_name=command.name)


def subcommand(group: click.Group, name: str) -> click.Command | None:
    return group.get_command(_context(group), name)


def resolve(root: click.Group, words: list[str]) -> list[tuple[tuple[str, ...], str]]:
    """Each flag in the words with the verb path it follows: a word after a group is its
    subcommand, any other word an argument. An unknown verb stays in the path, so the flags
    after it are reported against it."""
    command: click.Command | None = root
    path: tuple[str, ...] = ()
    flags: list[tuple[tuple[str, ...], str]] = []
    for word in words:
        bare = word.strip("[]()|")
        if bare.startswith("--"):
            flags += [(path, flag) for flag in FLAG.findall(bare)[:1]]
        elif isinstance(command, click.Group) and VERB.fullmatch(bare):
            command = subcommand(command, bare)
            path = (*path, bare)
    return flags


def find_command(root: click.Group, verb: tuple[str, ...]) -> click.Command | None:
    command: click.Command | None = root
    for word in verb:
        if not isinstance(command, click.Group):
            return None
        command = subcommand(command, word)
    return command


def accepted_flags(command: click.Command, nested: bool = True) -> set[str]:
    """What a command accepts; with `nested`, for a group, what it or any subcommand accepts
    (docs write `traygo submit --stack` for "the submit verbs take --stack")."""
    flags = {"--help"}
    for param in command.params:
        if isinstance(param, click.Option):
            flags.update(opt for opt in [*param.opts, *param.secondary_opts] if opt[:2] == "--")
    if nested and isinstance(command, click.Group):
        context = _context(command)
        for name in command.list_commands(context):
            sub = command.get_command(context, name)
            flags |= accepted_flags(sub) if sub else set()
    return flags


# --- the checks ---------------------------------------------------------------------------


def flag_problem(root: click.Group, mention: FlagMention) -> str | None:
    if mention.verb is None:
        if mention.flag in accepted_flags(root):
            return None
        return f"{mention.where} names {mention.flag}, which no traygo command accepts"
    shown = " ".join(["traygo", *mention.verb])
    command = find_command(root, mention.verb)
    if command is None:
        return f"{mention.where} names `{shown} {mention.flag}`, but `{shown}` is no command"
    if (command.help or "").startswith("(not installed"):
        return f"{mention.where} names `{shown}`, whose part is not installed: {command.help}"
    accepted = accepted_flags(command, nested=command is not root)
    if mention.flag in accepted:
        return None
    known = ", ".join(sorted(accepted))
    return f"{mention.where} names `{shown} {mention.flag}`, which `{shown}` lacks ({known})"


def read_variables() -> set[str]:
    """Variables traygo/config.py declares, plus any named in the Python sources."""
    declared = {var for spec in config.SETTINGS.values() for var in spec.envvars}
    for folder in SOURCE_DIRS:
        for path in (ROOT / folder).rglob("*.py"):
            declared.update(VARIABLE.findall(path.read_text(encoding="utf-8")))
    return declared


def doc_problems(root: click.Group, docs: dict[str, str], variables: set[str]) -> list[str]:
    problems: list[str] = []
    for doc, text in docs.items():
        mentions = [*command_flag_mentions(doc, text, root), *table_flag_mentions(doc, text)]
        problems += [p for m in dict.fromkeys(mentions) if (p := flag_problem(root, m))]
        for where, name in variable_mentions(doc, text):
            if name not in variables:
                problems.append(
                    f"{where} names {name}, which traygo/config.py does not declare "
                    "and no Python source reads"
                )
    return problems


def real_docs() -> dict[str, str]:
    return {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in doc_paths()}


# --- tests --------------------------------------------------------------------------------


def test_every_variable_and_flag_the_docs_name_exists() -> None:
    problems = doc_problems(cli, real_docs(), read_variables())
    assert not problems, "the docs name things the code lacks:\n" + "\n".join(problems)


def test_the_docs_are_read_for_commands_tables_and_variables() -> None:
    docs = real_docs()
    commands = {m for d, t in docs.items() for m in command_flag_mentions(d, t, cli)}
    tables = {m for d, t in docs.items() for m in table_flag_mentions(d, t)}
    variables = {name for d, t in docs.items() for _, name in variable_mentions(d, t)}
    assert len(commands) > 20 and tables and "TRAYGO_STORE" in variables


SAMPLE = """\
Run `traygo --debug VERB` or `traygo submit train --label pizza --wait`.

```bash
TRAYGO_STORE=s3://b traygo train --label pizza \\
    --promote   # then --not-a-flag in a comment
traygo models rollback pizza --to v1
make test PYTEST_ADDOPTS=--lf
aws cloudformation describe-stacks --stack-name traygo --query X
```

The error says `run traygo scrape ... first, or train with --images DIR`.

| what | flag (verbs) | environment |
|---|---|---|
| store | `--store` (train, backbone import) | `TRAYGO_STORE` |
| gate | `--min-accuracy` | `TRAYGO_NO_SUCH` |
"""


def test_commands_are_read_with_their_verbs_and_other_tools_are_not() -> None:
    found = {(m.where, m.verb, m.flag) for m in command_flag_mentions("s.md", SAMPLE, cli)}
    assert found == {
        ("s.md:1", (), "--debug"),
        ("s.md:1", ("submit", "train"), "--label"),
        ("s.md:1", ("submit", "train"), "--wait"),
        ("s.md:4", ("train",), "--label"),
        ("s.md:4", ("train",), "--promote"),
        ("s.md:6", ("models", "rollback"), "--to"),
    }


def test_flag_tables_are_read_per_verb_or_for_any_command() -> None:
    found = {(m.where, m.verb, m.flag) for m in table_flag_mentions("s.md", SAMPLE)}
    assert found == {
        ("s.md:15", ("train",), "--store"),
        ("s.md:15", ("backbone", "import"), "--store"),
        ("s.md:16", None, "--min-accuracy"),
    }


def test_a_problem_names_the_doc_and_the_missing_thing() -> None:
    doc = "x\n`traygo train --no-such-flag`\n`traygo nosuch --x`\n| flag |\n|---|\n| `--zzz` |\n"
    problems = doc_problems(cli, {"docs/x.md": doc + "TRAYGO_NO_SUCH"}, read_variables())
    assert problems[0].startswith("docs/x.md:2 names `traygo train --no-such-flag`, which")
    assert problems[1] == "docs/x.md:3 names `traygo nosuch --x`, but `traygo nosuch` is no command"
    assert problems[2] == "docs/x.md:6 names --zzz, which no traygo command accepts"
    assert problems[3].startswith("docs/x.md:7 names TRAYGO_NO_SUCH, which traygo/config.py")


def test_documented_variables_are_found_in_config_and_in_the_sources() -> None:
    variables = read_variables()
    assert {"TRAYGO_STORE", "TRAYGO_DEBUG", "TRAYGO_TEST_ALLOW_LOOPBACK_FETCH"} <= variables
    assert "TRAYGO_NO_SUCH" not in variables


def test_a_verb_whose_part_is_missing_is_reported_as_not_installed() -> None:
    root = click.Group("traygo", commands={"train": _unavailable("train", ImportError("no tf"))})
    problems = doc_problems(root, {"README.md": "`traygo train --label x`"}, set())
    assert problems == [
        "README.md:1 names `traygo train`, whose part is not installed: "
        "(not installed: needs traygo[training])"
    ]
