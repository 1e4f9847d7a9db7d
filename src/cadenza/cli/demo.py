"""``cadenza demo``: run the nested market-analysis example offline, then explain what happened.

The explanation is read from the run's own events (what the supervisor planned, which gates
failed and were retried, how many rounds the editor asked for), so it always tells the truth
about the run the user just watched.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import typer
from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from cadenza.cli.execute import RunOptions
from cadenza.cli.view import RunTracker, StepState

DEMO_INPUT = "Electric cargo bikes for urban delivery in Europe"
_SUBTASK = re.compile(r"^\d+\.[^:]+:(?P<name>.+)$")


def demo_file() -> Path:
    """The example the demo runs: packaged with the wheel, or in the source checkout."""
    packaged = resources.files("cadenza").joinpath("examples/market_analysis/workflow.yaml")
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[3] / "examples" / "market_analysis" / "workflow.yaml"


def run_demo(console: Console, as_json: bool) -> None:
    from cadenza.cli.app import run_outcome, user_errors
    from cadenza.cli.render import outcome_document, print_json
    from cadenza.workflows import load_workflow

    file = demo_file()
    with user_errors(console, as_json):
        workflow = load_workflow(file, model_override="offline")
    if not as_json:
        console.print(
            Panel.fit(
                Text.assemble(
                    ("Cadenza demo: ", "bold"),
                    "a market-analysis report by a team of agents\n",
                    ("workflow ", "dim"),
                    (str(_shown(file)), "cyan"),
                    "\n",
                    ("task     ", "dim"),
                    (DEMO_INPUT, "bold"),
                    "\n",
                    ("model    ", "dim"),
                    "offline (deterministic stand-in, not an LLM: no key, no network)",
                ),
                border_style="blue",
            )
        )
    # Stored like any `cadenza run`: the demo's run is in the local SQLite file afterwards.
    options = RunOptions(live=not as_json, console=console, durable=True, model="offline")
    outcome = run_outcome(workflow, DEMO_INPUT, options)
    if as_json:
        print_json(outcome_document(outcome, workflow.name))
        raise typer.Exit(outcome.exit_code)
    if outcome.status != "succeeded":
        from cadenza.cli.render import print_summary

        print_summary(console, outcome)
        raise typer.Exit(outcome.exit_code)
    report = str(outcome.tracker.output)
    console.print(
        Panel(
            Text(report[:1500] + ("\n…" if len(report) > 1500 else "")),
            title="final report (offline model)",
            border_style="green",
        )
    )
    console.print(Panel(explain(outcome.tracker, file), title="what you just saw", border_style="blue"))


def _shown(file: Path) -> Path:
    try:
        return file.relative_to(Path.cwd())
    except ValueError:
        return file


def explain(tracker: RunTracker, file: Path) -> Text:
    """What the run did, pattern by pattern, from its events; then what to try next."""
    out = Text()
    steps = list(tracker.steps.values())
    for step in steps:
        if step.kind == "supervisor" and "@retry" not in step.path:
            out.append_text(_supervisor(tracker, step))
        elif step.kind == "parallel" and "@retry" not in step.path:
            out.append_text(_parallel(tracker, step))
        elif step.kind == "reflective" and "@retry" not in step.path:
            out.append_text(_reflective(tracker, step))
    out.append_text(_search(tracker, file))
    out.append_text(_gates(tracker))
    out.append("\nTotals  ", style="bold")
    out.append(
        f"{len(steps)} steps, {tracker.model_calls} model calls, {tracker.tool_calls} tool calls, "
        f"{tracker.usage.total_tokens:,} tokens, ${tracker.cost:.2f} in {tracker.duration or 0:.2f} s. "
        "Every step has a deterministic path, and every event you saw came from one stream "
        "(the same one the API, tracing and cost ledger read).\n"
    )
    shown = _shown(file)
    out.append("\nTry next\n", style="bold")
    out.append(f"  cadenza runs show {tracker.run_id}   ", style="cyan")
    out.append("(the run is stored in the local SQLite file)\n", style="dim")
    out.append(f"  cadenza validate {shown}\n", style="cyan")
    out.append(f'  cadenza run {shown} -i "Plant-based milk in Japan"\n', style="cyan")
    out.append(f"  cadenza run {shown} --model openai:gpt-4.1-mini   ", style="cyan")
    out.append("(set OPENAI_API_KEY)\n", style="dim")
    out.append("  cadenza run examples/reflective_press_release.yaml --json\n", style="cyan")
    return out


def _children(tracker: RunTracker, step: StepState) -> list[StepState]:
    return [tracker.steps[p] for p in step.children]


def _supervisor(tracker: RunTracker, step: StepState) -> Text:
    subtasks = []
    plans = 0
    for child in _children(tracker, step):
        segment = child.path.rsplit("/", 1)[-1]
        if segment.startswith("plan#"):
            plans += 1
        match = _SUBTASK.match(segment)
        if match:
            subtasks.append(match.group("name"))
    text = Text("Supervisor  ", style="bold")
    text.append(
        f"'{step.name}': the lead planned {len(subtasks)} subtask(s) for "
        f"{', '.join(dict.fromkeys(subtasks)) or 'no one'} in {plans} planning turn(s); "
        "independent subtasks ran concurrently, each researcher called its own data tool and "
        "web_search, then the lead merged the findings.\n"
    )
    return text


def _parallel(tracker: RunTracker, step: StepState) -> Text:
    branches = [c.name for c in _children(tracker, step)]
    slowest = max((c.duration or 0 for c in _children(tracker, step)), default=0)
    text = Text("Parallel    ", style="bold")
    text.append(
        f"'{step.name}': {len(branches)} analysts ({', '.join(branches)}) worked on the same "
        f"input at the same time (the stage took {step.duration or 0:.3f} s, its slowest branch "
        f"{slowest:.3f} s); their answers were merged, one of them as validated JSON.\n"
    )
    return text


def _reflective(tracker: RunTracker, step: StepState) -> Text:
    verdicts = [
        g for g in tracker.gates if g.path.startswith(step.path + "/") and g.gate.startswith("critic:")
    ]
    rounds = len(verdicts)
    passed = any(g.passed for g in verdicts)
    text = Text("Reflective  ", style="bold")
    text.append(
        f"'{step.name}': the writer drafted, the critic scored it and sent feedback; "
        f"{rounds} round(s) until the draft {'passed' if passed else 'ran out of rounds'}. "
        "The best draft is kept, not just the last.\n"
    )
    return text


_RESULT = re.compile(r'"title": "(?P<title>(?:[^"\\]|\\.)*)", "url": "(?P<url>[^"#]*)')


def _search(tracker: RunTracker, file: Path) -> Text:
    """What web_search found in the example's local corpus: titles and the documents they are in."""
    searches = [e for e in tracker.tool_events if e.tool == "web_search" and e.output and not e.error]
    if not searches:
        return Text()
    found: dict[str, str] = {}
    for event in searches:
        # Read with a pattern, not json.loads: a long tool output is clipped in its event.
        for match in _RESULT.finditer(event.output or ""):
            found.setdefault(match.group("title"), _document(match.group("url"), file.parent))
    text = Text("Search      ", style="bold")
    text.append(
        f"the researchers called web_search {len(searches)} time(s) over the research notes in "
        f"{_document((file.parent / 'corpus').as_uri(), file.parent)}/ (a local SQLite full-text "
        "index, no network; the notes are illustrative) and used what it found:\n"
    )
    for title, document in list(found.items())[:4]:
        text.append(f"  • {title} ")
        text.append(f"({document})\n", style="dim")
    return text


def _document(url: str, base: Path) -> str:
    """A ``file://`` result URL as a path relative to the workflow's folder."""
    from urllib.parse import unquote, urlparse

    path = Path(unquote(urlparse(url).path))
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def _gates(tracker: RunTracker) -> Text:
    stage_gates = [g for g in tracker.gates if not g.gate.startswith("critic:")]
    if not stage_gates:
        return Text()
    failed = [g for g in stage_gates if not g.passed]
    text = Text("Pipeline    ", style="bold")
    text.append(f"{len(stage_gates)} gate check(s) between stages")
    if failed:
        first = failed[0]
        text.append(
            f"; '{first.gate}' failed on attempt {first.attempt} ({first.feedback}), so that stage "
            "re-ran with the feedback and passed"
        )
    text.append(". A stage that keeps failing rolls the state back and stops the run with the reason.\n")
    return text
