"""The shell blocks of the project's Markdown files, read as a user reads them, and checked against the code.

A fenced ``bash`` block may be preceded by a directive comment:

- ``<!-- doc-test: skip (reason) -->``: neither checked nor run (a GPU, MONAI Label, a data set a clone lacks, an
  install); the test reports it skipped with its reason.
- ``<!-- doc-test: quick -->``: also run in the default test suite (it depends on no other block but earlier quick
  blocks of its file).

Every other block is checked statically in the default suite (programs, flags, config ids, files: see
:func:`check_block`) and run for real, in order, in a fresh copy of the repository, by the ``slow`` test.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: The Markdown files whose commands are a contract.
DOCS = ("README.md", "configs/README.md", "docs/*.md", "bundles/*/docs/README.md")
_FENCE = re.compile(r"^(\s*)```(\w*)\s*$")
_DIRECTIVE = re.compile(r"^<!--\s*doc-test:\s*(skip|quick)\b\s*(.*?)\s*-->$")
_VAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
_ASSIGN = re.compile(r"^([A-Za-z_]\w*)=(.*)$")
_FUNCTION = re.compile(r"^(\w+)\(\)\s*\{(.*)\}\s*;?\s*$")
#: Paths a clone holds; a token starting with one of these must name a file or folder of the repository.
_REPO_PATHS = ("bundles/", "configs/", "benchmarks/", "docs/", "tests/", "attn_seg/")
#: Paths that runs write (not in a clone): never checked for existence.
_WRITTEN = re.compile(r"/(models|eval|data|runs)(/|$)|^runs/|\.(ts|onnx)$")
#: Keyword arguments of ``monai.bundle run`` that are not config ids.
_RUNNER_ARGS = {"bundle_root", "config_file", "meta_file", "logging_file", "args_file", "tracking", "run_id",
                "init_id", "final_id"}


@dataclass
class Block:
    """One fenced shell block: the file, the line of its opening fence, its text and its directive."""

    doc: str
    line: int
    text: str
    mode: str = "run"  # "run", "quick" or "skip"
    reason: str = ""

    @property
    def name(self) -> str:
        """``README.md:123``."""
        return f"{self.doc}:{self.line}"


@dataclass
class Shell:
    """What the checker tracks across the blocks of a file: variables and functions."""

    variables: dict[str, str] = field(default_factory=dict)
    functions: dict[str, str] = field(default_factory=dict)


def doc_files(root: Path = REPO) -> list[Path]:
    """The Markdown files of :data:`DOCS` in ``root``."""
    return sorted({p for pattern in DOCS for p in root.glob(pattern)})


def read_blocks(path: Path, root: Path = REPO) -> list[Block]:
    """The ``bash``/``sh`` blocks of a Markdown file, with their directives."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        indent, lang, start = fence.group(1), fence.group(2), i
        i += 1
        body = []
        while i < len(lines) and not _FENCE.match(lines[i]):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1
        if lang not in ("bash", "sh", "shell"):
            continue
        previous = next((lines[j].strip() for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        directive = _DIRECTIVE.match(previous)
        mode, reason = (directive.group(1), directive.group(2).strip("() ")) if directive else ("run", "")
        blocks.append(Block(str(path.relative_to(root)), start + 1, "\n".join(body) + "\n", mode, reason))
    return blocks


def _strip_comment(line: str) -> str:
    """The line without a shell comment (a ``#`` at a word start, outside quotes)."""
    quote = ""
    for k, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (k == 0 or line[k - 1].isspace()):
            return line[:k]
    return line


def logical_lines(text: str) -> list[str]:
    """Lines with backslash continuations joined and comments removed."""
    joined = re.sub(r"\\\n", " ", text)
    return [s for s in (_strip_comment(line).strip() for line in joined.splitlines()) if s]


def _expand(token: str, shell: Shell) -> str:
    return _VAR.sub(lambda m: shell.variables.get(m.group(1) or m.group(2), m.group(0)), token)


def _split(tokens: list[str]) -> list[list[str]]:
    """Tokens split into commands at ``&&``, ``||``, ``;`` and ``|``."""
    commands: list[list[str]] = [[]]
    for token in tokens:
        if token in ("&&", "||", ";", "|"):
            commands.append([])
            continue
        end = token.endswith(";")
        commands[-1].append(token.rstrip(";"))
        if end:
            commands.append([])
    return [c for c in commands if c]


def commands(block: Block, shell: Shell) -> list[list[str]]:
    """The block's simple commands with variables expanded, ``for`` loops unrolled and shell functions inlined
    (``shell`` carries variables and functions from earlier blocks of the same file)."""
    out: list[list[str]] = []
    loop: tuple[str, list[str], list[str]] | None = None
    for line in logical_lines(block.text):
        function = _FUNCTION.match(line)
        if function:
            shell.functions[function.group(1)] = function.group(2)
            continue
        for command in _split(shlex.split(line)):
            if command[0] == "for" and len(command) > 3 and command[2] == "in":
                loop = (command[1], command[3:], [])
                continue
            if command[0] == "do":
                command = command[1:]
            if command == ["done"] and loop is not None:
                var, values, body = loop
                loop = None
                for value in values:
                    shell.variables[var] = _expand(value, shell)
                    for line_ in body:
                        out += _resolve(shlex.split(line_), shell)
                continue
            if loop is not None:
                loop[2].append(shlex.join(command))
                continue
            out += _resolve(command, shell)
    return out


def _resolve(command: list[str], shell: Shell) -> list[list[str]]:
    """One command: leading ``NAME=value`` assignments recorded (for the rest of the file when they stand alone),
    variables expanded, a shell function call inlined with its arguments."""
    local = dict(shell.variables)
    while command and _ASSIGN.match(command[0]):
        name, value = _ASSIGN.match(command[0]).groups()  # type: ignore[union-attr]
        local[name] = _expand(value, Shell(local))
        command = command[1:]
    if not command:
        shell.variables.update(local)
        return []
    scope = Shell(local, shell.functions)
    expanded = [_expand(t, scope) for t in command]
    if expanded[0] in shell.functions:
        args = {str(k): v for k, v in enumerate(expanded[1:], start=1)}
        body = _VAR.sub(lambda m: args.get(m.group(1) or m.group(2), m.group(0)), shell.functions[expanded[0]])
        return [[_expand(t, scope) for t in c] for c in _split(shlex.split(body))]
    return [expanded]


def _flags(args: list[str]) -> tuple[list[str], dict[str, str]]:
    """``--key value`` pairs and the positional arguments of a command."""
    positional, flags, k = [], {}, 0
    while k < len(args):
        if args[k].startswith("--"):
            key, eq, value = args[k][2:].partition("=")
            if not eq:
                value = args[k + 1] if k + 1 < len(args) and not args[k + 1].startswith("--") else ""
                k += 1 if value or k + 1 >= len(args) else 0
            flags[key] = value
        else:
            positional.append(args[k])
        k += 1
    return positional, flags


def _check_runner(args: list[str], root: Path) -> list[str]:
    """``python -m monai.bundle <command> ...``: the files exist, the run id and every override are config ids."""
    from monai.bundle import ConfigParser

    if not args:
        return ["`python -m monai.bundle` without a command"]
    positional, flags = _flags(args[1:])
    config = flags.get("config_file", "")
    files = ast.literal_eval(config) if config.startswith("[") else [config] if config else []
    problems = [f"no such file: {f}" for f in [*files, flags.get("meta_file", "")] if f and not (root / f).exists()]
    if problems or not files:
        return problems
    parser = ConfigParser()
    parser.read_config([str(root / f) for f in files])
    names = [p for p in positional[:1] if args[0] in ("run", "verify_net_in_out", "ckpt_export")]
    unknown = [k for k in [*names, *(k for k in flags if k not in _RUNNER_ARGS)] if k not in parser]
    if args[0] in ("verify_net_in_out", "ckpt_export", "verify_metadata"):
        unknown = [k for k in unknown if k in positional]  # their own options are not config ids
    return [f"`{k}` is not an id of {', '.join(files)}" for k in unknown]


def _check_cli(args: list[str]) -> list[str]:
    """``attn-seg ...``: the command line parses (flags, choices, values) as the program parses it."""
    from attn_seg.cli import build_parser

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(args)
    except SystemExit as stop:
        if stop.code not in (0, None):
            return [f"attn-seg {' '.join(args)}: {err.getvalue().strip().splitlines()[-1]}"]
    return []


def _check_script(script: str, args: list[str], root: Path) -> list[str]:
    """``python benchmarks/x.py --flag ...``: the script exists and defines every flag given."""
    path = root / script
    if not path.is_file():
        return [f"no such script: {script}"]
    text = path.read_text(encoding="utf-8")
    return [f"{script} has no option --{k}" for k in _flags(args)[1] if f'"--{k}"' not in text]


def _check_paths(command: list[str], root: Path) -> list[str]:
    """Repository paths named in the command exist (those a run writes excepted)."""
    problems = []
    for token in command:
        for part in re.split(r"[\s,'\"\[\]=]+", token):
            if part.startswith(_REPO_PATHS) and not _WRITTEN.search(part) and not (root / part).exists():
                problems.append(f"no such file or folder in the repository: {part}")
    return problems


def check_command(command: list[str], root: Path = REPO) -> list[str]:
    """Problems with one command (empty when it matches the code)."""
    program = command[0]
    if program == "torchrun" and "-m" in command:
        command = ["python", *command[command.index("-m"):]]
        program = "python"
    problems = _check_paths(command, root)
    if program == "attn-seg":
        problems += _check_cli(command[1:])
    elif program in ("python", "python3") and command[1:3] == ["-m", "attn_seg"]:
        problems += _check_cli(command[3:])
    elif program in ("python", "python3") and command[1:3] == ["-m", "monai.bundle"]:
        problems += _check_runner(command[3:], root)
    elif program in ("python", "python3") and len(command) > 1 and command[1].endswith(".py"):
        problems += _check_script(command[1], command[2:], root)
    return problems


def check_block(block: Block, shell: Shell, root: Path = REPO) -> list[str]:
    """Problems with every command of a block."""
    return [f"{block.name}: {p}" for c in commands(block, shell) for p in check_command(c, root)]
