"""A model's price as written in configuration: the config file, ``CADENZA_PRICES`` and workflow
files all use this one shape, so they validate (and document) prices the same way.

Pydantic is imported here, so this module is loaded only by configuration and workflow loading,
never by ``import cadenza``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from cadenza.models.pricing import Price

ModelName = Annotated[
    str,
    StringConstraints(pattern=r"^(offline|[^:\s]+:\S+)$"),
    Field(
        description="A model string, provider:name (e.g. openai:ft:gpt-4.1-mini:acme), or offline "
        "(to simulate costs in demos and tests)."
    ),
]
_Rate = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]


class PriceSpec(BaseModel):
    """USD per million tokens; cache rates default to the input rate."""

    model_config = ConfigDict(extra="forbid")

    input_per_mtok: _Rate = Field(description="USD per million input tokens.")
    output_per_mtok: _Rate = Field(description="USD per million output tokens.")
    cache_read_per_mtok: _Rate | None = Field(None, description="USD per million cached input tokens read.")
    cache_write_per_mtok: _Rate | None = Field(
        None, description="USD per million input tokens written to the cache."
    )

    def price(self) -> Price:
        return Price(
            self.input_per_mtok, self.output_per_mtok, self.cache_read_per_mtok, self.cache_write_per_mtok
        )
