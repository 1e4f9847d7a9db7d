"""Model providers behind one small protocol; SDKs are imported only when a provider is used."""

from cadenza.models.base import (
    Model,
    ModelRequest,
    ModelResponse,
    OutputSchema,
    StreamingModel,
    ToolDefinition,
)
from cadenza.models.function import FunctionModel
from cadenza.models.offline import OfflineModel
from cadenza.models.pricing import Price, cost_of, set_price
from cadenza.models.registry import infer_model, infer_models, register_provider

__all__ = [
    "FunctionModel",
    "Model",
    "ModelRequest",
    "ModelResponse",
    "OfflineModel",
    "OutputSchema",
    "Price",
    "StreamingModel",
    "ToolDefinition",
    "cost_of",
    "infer_model",
    "infer_models",
    "register_provider",
    "set_price",
]
