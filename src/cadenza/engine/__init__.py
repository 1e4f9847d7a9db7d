"""Runs: step contexts, the model and tool call doors, retries."""

from cadenza.engine.context import RunState, StepContext
from cadenza.engine.retry import RetryPolicy
from cadenza.engine.step import Step, StepInput

__all__ = ["RetryPolicy", "RunState", "Step", "StepContext", "StepInput"]
