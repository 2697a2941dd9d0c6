"""WorkBench's call strings, tool names, and the string round trip its grader applies.

Upstream names a tool `<toolkit>.<function>` and records every call the agent makes as a
Python call string, `<toolkit>.<function>.func(arg="value", ...)`; its grader executes those
strings on a fresh copy of the databases. Tool names on the OpenAI wire may not contain '.', so
roibench names the tools `<toolkit>__<function>` (two underscores); no toolkit or function name
contains two underscores, so the mapping is reversible (`openai_name` / `dotted_name`).

The grader here never `eval`s anything: a call string is parsed with `ast` and only a call of
a known tool with keyword string constants is executed (`parse_call`). The agent's calls reach
the grader the way upstream's do (`upstream_call_string`): every argument is written as
`name="<str(value)>"` and newlines become `\\n`, so a value is graded as upstream grades it
(a JSON number 30 becomes "30", null becomes "None", a literal backslash-n is a newline, and a
value with a double quote in it breaks the string, and the call is not executed).
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass
from enum import StrEnum


class Toolkit(StrEnum):
    """WorkBench's toolkits: the five databases and the company directory."""

    ANALYTICS = "analytics"
    CALENDAR = "calendar"
    COMPANY_DIRECTORY = "company_directory"
    CUSTOMER_RELATIONSHIP_MANAGER = "customer_relationship_manager"
    EMAIL = "email"
    PROJECT_MANAGEMENT = "project_management"


SEPARATOR = "__"
"""Between toolkit and function in an OpenAI tool name (upstream uses '.')."""


def openai_name(dotted: str) -> str:
    """`email.send_email` -> `email__send_email`."""
    toolkit, _, function = dotted.partition(".")
    return f"{toolkit}{SEPARATOR}{function}"


def dotted_name(name: str) -> str:
    """`email__send_email` -> `email.send_email` (the inverse of `openai_name`)."""
    toolkit, _, function = name.partition(SEPARATOR)
    return f"{toolkit}.{function}"


def toolkit_of(name: str) -> Toolkit | None:
    """The toolkit of an OpenAI or dotted tool name, None if it names none."""
    head = name.partition(SEPARATOR)[0] if SEPARATOR in name else name.partition(".")[0]
    try:
        return Toolkit(head)
    except ValueError:
        return None


@dataclass(frozen=True)
class Call:
    """One call as the grader executes it: a dotted tool name and keyword string arguments."""

    tool: str
    """Upstream's dotted name, e.g. `email.send_email`."""
    kwargs: tuple[tuple[str, str], ...]
    """Arguments in the order written."""

    @property
    def args(self) -> dict[str, str]:
        """The arguments as a dict."""
        return dict(self.kwargs)


def parse_call(text: str) -> Call | None:
    """A call string `toolkit.function.func(k="v", ...)` as a Call; None when upstream's `eval`
    would not run it as one (not a call, positional arguments, a non-string argument)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escapes ("\d") warn but parse, as in eval
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except (SyntaxError, ValueError):
            return None
    node = tree.body
    if not isinstance(node, ast.Call) or node.args:
        return None
    func = node.func
    if not (
        isinstance(func, ast.Attribute)
        and func.attr == "func"
        and isinstance(func.value, ast.Attribute)
        and isinstance(func.value.value, ast.Name)
    ):
        return None
    kwargs: list[tuple[str, str]] = []
    for kw in node.keywords:
        if kw.arg is None or not isinstance(kw.value, ast.Constant):
            return None
        if not isinstance(kw.value.value, str):
            return None
        kwargs.append((kw.arg, kw.value.value))
    return Call(tool=f"{func.value.value.id}.{func.value.attr}", kwargs=tuple(kwargs))


def upstream_call_string(name: str, args: dict[str, object]) -> str:
    """How upstream records an agent's call (its `convert_agent_action_to_function_call`), with
    the newline escaping its metrics apply before executing it."""
    rendered = ", ".join(f'{k}="{v}"' for k, v in args.items())
    return f"{dotted_name(name)}.func({rendered})".replace("\n", "\\n")


def graded_call(name: str, args: dict[str, object]) -> Call | None:
    """The call the grader executes for an agent's tool call (None: upstream's eval fails)."""
    return parse_call(upstream_call_string(name, args))
