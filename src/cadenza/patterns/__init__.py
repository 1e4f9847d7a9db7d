"""The four orchestration patterns. Each is a Step made of Steps, so they nest freely."""

from cadenza.patterns.gates import CallableGate, Gate, JudgeGate, SchemaGate, Verdict, as_gate
from cadenza.patterns.parallel import Parallel
from cadenza.patterns.pipeline import Pipeline
from cadenza.patterns.reflective import Critique, Reflective
from cadenza.patterns.registry import get_pattern, pattern_names, register_pattern
from cadenza.patterns.supervisor import Plan, Subtask, Supervisor

__all__ = [
    "CallableGate",
    "Critique",
    "Gate",
    "JudgeGate",
    "Parallel",
    "Pipeline",
    "Plan",
    "Reflective",
    "SchemaGate",
    "Subtask",
    "Supervisor",
    "Verdict",
    "as_gate",
    "get_pattern",
    "pattern_names",
    "register_pattern",
]
