"""The base of every typed section: frozen, strict, and an unknown key is an error (a typo never passes silently)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic import Strict as _StrictMode

# Strict: YAML's `true` is never the integer 1 (`vlan: true` is not VLAN 1), "3" is never 3 and 3.0 is never
# an int; every field gets exactly the type it declares.
# An enum field is written as its value in YAML (`purpose: storage`), which strict mode would refuse as not
# being a member: such a field is annotated `Annotated[TheEnum, BY_VALUE]`, which accepts exactly the
# enum's values (and still refuses anything else, a bool included).
BY_VALUE = _StrictMode(False)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
