"""Every class of workflow-file error names the file, line, column and key, all at once."""

from __future__ import annotations

import textwrap

import pytest

from cadenza.workflows import Problem, WorkflowFileError, load_workflow, load_workflow_text


def problems_of(text: str, **kwargs: object) -> list[Problem]:
    with pytest.raises(WorkflowFileError) as info:
        load_workflow_text(textwrap.dedent(text), "flow.yaml", **kwargs)  # type: ignore[arg-type]
    error = info.value
    assert error.file == "flow.yaml"
    for problem in error.problems:
        assert f"flow.yaml:{problem.line}:{problem.column}" in str(error)
    return error.problems


def one(problems: list[Problem], key: str) -> Problem:
    found = [p for p in problems if p.key == key]
    assert found, f"no problem at {key}; got {[str(p) for p in problems]}"
    return found[0]


BASE = """\
name: t
agents:
  writer: {instructions: Write.}
  editor: {instructions: Edit.}
"""


def test_unknown_agent_referenced() -> None:
    problems = problems_of(BASE + "workflow:\n  pipeline:\n    stages: [writer, writr]\n")
    p = one(problems, "workflow.pipeline.stages[1]")
    assert (p.line, p.column) == (7, 22)
    assert "unknown agent or step 'writr'" in p.message and "did you mean 'writer'" in p.message
    assert p.expected and "writer" in p.expected


def test_unknown_tool() -> None:
    problems = problems_of("""\
        name: t
        agents:
          researcher:
            instructions: Research.
            tools: [web_serch]
        workflow: researcher
        """)
    p = one(problems, "agents.researcher.tools[0]")
    assert (p.line, p.column) == (5, 13)
    assert "unknown tool 'web_serch'" in p.message


def test_unknown_pattern_key() -> None:
    problems = problems_of(BASE + "workflow:\n  paralel:\n    branches: [writer, editor]\n")
    p = one(problems, "workflow.paralel")
    assert (p.line, p.column) == (6, 3)
    assert "unknown pattern key 'paralel'" in p.message and "did you mean 'parallel'" in p.message
    assert p.expected and "pipeline" in p.expected


def test_unknown_pattern_key_with_a_scalar_value() -> None:
    stages = "    stages:\n      - writer\n      - reflectiv: writer\n"
    problems = problems_of(BASE + "workflow:\n  pipeline:\n" + stages)
    p = one(problems, "workflow.pipeline.stages[1].reflectiv")
    assert (p.line, p.column) == (9, 9)
    assert "unknown pattern key 'reflectiv'" in p.message and "did you mean 'reflective'" in p.message
    assert "valid dictionary" not in str(problems)
    assert p.expected and "reflective" in p.expected


def test_registered_pattern_with_scalar_options() -> None:
    from cadenza import Pipeline, register_pattern

    class Fanout(Pipeline):
        pass

    register_pattern("fanout_scalar_test")(Fanout)
    problems = problems_of(BASE + "workflow:\n  fanout_scalar_test: writer\n")
    p = one(problems, "workflow.fanout_scalar_test")
    assert "the options of pattern 'fanout_scalar_test' must be a mapping" in p.message


def test_unknown_key_lists_the_known_ones() -> None:
    problems = problems_of("""\
        name: t
        agents:
          writer: {instructions: Write., modle: offline}
        workflow: writer
        """)
    p = one(problems, "agents.writer.modle")
    assert p.line == 3
    assert "unknown key 'modle'" in p.message and "did you mean 'model'" in p.message
    assert p.expected and "instructions" in p.expected


def test_wrong_type() -> None:
    problems = problems_of(
        BASE + "workflow:\n  reflective: {agent: writer, critic: editor, max_rounds: many}\n"
    )
    p = one(problems, "workflow.reflective.max_rounds")
    assert (p.line, p.column) == (6, 59)
    assert "integer" in p.message and p.value == "'many'"


def test_cycle_between_named_steps() -> None:
    problems = problems_of(
        BASE
        + """\
steps:
  draft: {pipeline: {stages: [writer, review]}}
  review: {parallel: {branches: [editor, draft]}}
workflow: draft
"""
    )
    p = one(problems, "steps.review.parallel.branches[1]")
    assert p.line == 7
    assert "cycle" in p.message and "draft -> review -> draft" in p.message


def test_empty_branch_list() -> None:
    problems = problems_of(BASE + "workflow:\n  parallel: {branches: []}\n")
    p = one(problems, "workflow.parallel.branches")
    assert (p.line, p.column) == (6, 24)
    assert "at least 1 item" in p.message


def test_bad_env_var_references() -> None:
    problems = problems_of(
        BASE
        + """\
workflow:
  pipeline:
    name: "${CADENZA_TEST_UNSET_VAR}"
    stages: ["${1BAD}", writer]
""",
        environ={},
    )
    unset = one(problems, "workflow.pipeline.name")
    assert unset.line == 7 and "CADENZA_TEST_UNSET_VAR is not set" in unset.message
    bad = one(problems, "workflow.pipeline.stages[0]")
    assert bad.line == 8 and "bad environment variable reference" in bad.message


def test_yaml_syntax_error_has_position() -> None:
    problems = problems_of("name: t\nworkflow: [writer\nagents: {}\n")
    assert len(problems) == 1
    assert problems[0].line >= 2 and "not valid YAML" in problems[0].message


def test_duplicate_key() -> None:
    problems = problems_of(BASE + "  writer: {instructions: Again.}\nworkflow: writer\n")
    p = one(problems, "agents.writer")
    assert p.line == 5 and "duplicate key 'writer' (first defined on line 3)" in p.message


def test_missing_required_key() -> None:
    problems = problems_of("name: t\nagents: {}\n")
    assert any("missing required key 'workflow'" in p.message for p in problems)


def test_every_problem_is_reported_at_once() -> None:
    problems = problems_of("""\
        name: t
        agents:
          writer: {instructions: Write., tools: [nope], temperature: hot}
          critic: {model: "nosuch:model"}
        workflow:
          pipeline:
            stages:
              - writr
              - parallel: {branches: []}
              - reflective: {agent: writer, critic: ghost}
        budget: {max_cost: 1}
        """)
    keys = {p.key for p in problems}
    assert {
        "agents.writer.tools[0]",
        "agents.writer.temperature",
        "agents.critic.model",
        "workflow.pipeline.stages[0]",
        "workflow.pipeline.stages[1].parallel.branches",
        "workflow.pipeline.stages[2].reflective.critic",
        "budget.max_cost",
    } <= keys
    lines = [p.line for p in problems]
    assert lines == sorted(lines)


def test_role_that_needs_an_agent_rejects_a_step() -> None:
    problems = problems_of(
        BASE
        + """\
steps:
  team: {parallel: {branches: [writer, editor]}}
workflow:
  supervisor: {supervisor: team, specialists: [writer]}
"""
    )
    p = one(problems, "workflow.supervisor.supervisor")
    assert "'team' is a step, but a supervisor must be an agent" in p.message


def test_gate_for_unknown_stage() -> None:
    problems = problems_of(
        BASE
        + """\
workflow:
  pipeline:
    stages: [writer, editor]
    gates:
      editr: {min_length: 10}
"""
    )
    p = one(problems, "workflow.pipeline.gates.editr")
    assert p.line == 9 and "unknown stage 'editr'" in p.message and "did you mean 'editor'" in p.message


def test_not_a_gate() -> None:
    problems = problems_of(
        BASE
        + """\
workflow:
  pipeline:
    stages: [writer]
    gates:
      writer: {length: 10}
"""
    )
    p = one(problems, "workflow.pipeline.gates.writer")
    assert "not a gate" in p.message and p.expected and "judge" in p.expected


def test_bad_python_import() -> None:
    problems = problems_of(
        BASE
        + """\
workflow:
  pipeline:
    stages: [writer]
    gates:
      writer: {python: "no_such_module_xyz:check"}
"""
    )
    p = one(problems, "workflow.pipeline.gates.writer.python")
    assert "no module named 'no_such_module_xyz'" in p.message


def test_unsupported_output_schema_keyword() -> None:
    problems = problems_of("""\
        name: t
        agents:
          a:
            output_schema:
              type: object
              properties:
                x: {oneOf: [{type: string}]}
        workflow: a
        """)
    p = one(problems, "agents.a.output_schema.properties.x.oneOf")
    assert p.line == 7 and "unsupported JSON Schema keyword 'oneOf'" in p.message


def test_missing_file() -> None:
    with pytest.raises(WorkflowFileError) as info:
        load_workflow("/no/such/flow.yaml")
    assert "cannot read the file" in str(info.value)


def test_secret_values_never_appear_in_errors() -> None:
    problems = problems_of(
        BASE + 'workflow:\n  parallel: {branches: [writer], max_concurrency: "${SECRET_N}"}\n',
        environ={"SECRET_N": "hunter2"},
    )
    p = one(problems, "workflow.parallel.max_concurrency")
    assert p.value == "${SECRET_N}"
    assert all("hunter2" not in str(q) for q in problems)


def test_a_bad_setting_does_not_hide_reference_problems_in_the_same_step() -> None:
    problems = problems_of(
        BASE
        + """\
workflow:
  pipeline:
    stages: [writer, ghost]
    max_gate_retries: lots
    gates:
      writer: {lenght: 3}
"""
    )
    keys = {p.key for p in problems}
    assert {
        "workflow.pipeline.max_gate_retries",
        "workflow.pipeline.gates.writer",
        "workflow.pipeline.stages[1]",
    } <= keys
