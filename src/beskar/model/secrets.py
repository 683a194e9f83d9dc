"""The typed `secrets` section of a site: who can read its secrets, and how values are generated."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from beskar.secrets.age import recipient_problem


def _recipient(value: str) -> str:
    problem = recipient_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _list_or_empty(value: Any) -> Any:
    return [] if value is None else value  # `recipients:` with every item removed reads as null


AgeRecipient = Annotated[str, AfterValidator(_recipient)]
Recipients = Annotated[list[AgeRecipient], BeforeValidator(_list_or_empty)]


class SecretsSettings(BaseModel):
    """Each site has its own age recipients (its Flux key); operators' recipients open every site."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    recipients: Recipients = Field(default=[], description="the site's own age recipients: its Flux key "
                                                           "(`beskar secrets keygen`) and anyone for this site only")
    operators: Recipients = Field(default=[], description="operators' age recipients (usually set fleet-wide in "
                                                          "beskar.yaml defaults); they can open every site")
    password_length: int = Field(default=32, ge=16, le=256, description="length of generated passwords and hex tokens")
    max_age_days: int = Field(default=365, ge=1, description="`beskar secrets audit` flags values older than this")
