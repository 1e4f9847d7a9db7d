"""Messages, usage, results and events: the data every layer shares. Depends on nothing."""

from cadenza.types.events import (
    AnyEvent,
    BudgetWarning,
    Event,
    FallbackUsed,
    GateChecked,
    LLMCall,
    RetryScheduled,
    RunFailed,
    RunFinished,
    RunStarted,
    StepFailed,
    StepFinished,
    StepStarted,
    TextDelta,
    ToolCalled,
    event_adapter,
    event_to_dict,
)
from cadenza.types.messages import Message, Role, ToolCall
from cadenza.types.results import RunResult, StepResult, Task
from cadenza.types.usage import Usage

__all__ = [
    "AnyEvent",
    "BudgetWarning",
    "Event",
    "FallbackUsed",
    "GateChecked",
    "LLMCall",
    "Message",
    "RetryScheduled",
    "Role",
    "RunFailed",
    "RunFinished",
    "RunResult",
    "RunStarted",
    "StepFailed",
    "StepFinished",
    "StepResult",
    "StepStarted",
    "Task",
    "TextDelta",
    "ToolCall",
    "ToolCalled",
    "Usage",
    "event_adapter",
    "event_to_dict",
]
