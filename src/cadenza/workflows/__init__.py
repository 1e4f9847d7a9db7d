"""Workflow files: YAML or JSON declaring agents and a tree of patterns, loaded into Steps.

from cadenza.workflows import load_workflow
flow = load_workflow("examples/market_analysis/workflow.yaml", model_override="offline")
result = await flow.run("Electric bikes in Europe")
"""

from cadenza.workflows.errors import Problem, WorkflowFileError
from cadenza.workflows.loader import load_workflow, load_workflow_text
from cadenza.workflows.workflow import Workflow

__all__ = ["Problem", "Workflow", "WorkflowFileError", "load_workflow", "load_workflow_text"]
