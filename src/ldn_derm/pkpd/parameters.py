"""Model parameters: read from the knowledge base (pkpd.yaml) by id, never hard-coded.

`ModelParameters` holds the typical (population) values and the between-subject CVs of one
model structure. The two structures share the pharmacokinetics and differ in the receptor
part: the default `RETENTION` model adds a slowly emptying brain pool, the `PLASMA` model
(the short-duration bound) lets occupancy follow plasma directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from ldn_derm.errors import KnowledgeError

if TYPE_CHECKING:
    from ldn_derm.knowledge.models import PkpdParameters

LN2 = math.log(2.0)


class Structure(StrEnum):
    """Which receptor model: the calibrated default, or the plasma-driven bound."""

    RETENTION = "retention"
    PLASMA = "plasma"

    @property
    def label(self) -> str:
        if self is Structure.RETENTION:
            return "default model (brain retention)"
        return "plasma-driven model (short-duration bound)"


class ParamId(StrEnum):
    """Parameter ids in pkpd.yaml."""

    NTX_HALF_LIFE = "naltrexone-half-life"
    NTX_TMAX = "naltrexone-tmax"
    NTX_CMAX_50 = "naltrexone-cmax-50mg"
    NOL_HALF_LIFE = "naltrexol-half-life"
    NOL_CMAX_50 = "naltrexol-cmax-50mg"
    NOL_AFFINITY_RATIO = "naltrexol-affinity-ratio"
    NOL_POTENCY_RATIO = "naltrexol-central-potency-ratio"
    NOL_PENETRATION = "naltrexol-brain-penetration-factor"
    KA = "absorption-rate"
    NTX_VOLUME = "naltrexone-apparent-volume"
    NOL_VOLUME = "naltrexol-apparent-volume"
    K_NTX = "naltrexone-occupancy-constant"
    UPTAKE = "retention-uptake-rate"
    RETENTION_HALF_LIFE = "retention-half-life"
    K_NTX_PLASMA = "plasma-model-occupancy-constant"
    HEROIN_THRESHOLD = "heroin-blockade-occupancy"


# Parameters that vary between subjects (log-normal), in the order of `SubjectParameters`.
VARIABLE = (
    ParamId.KA,
    ParamId.NTX_HALF_LIFE,
    ParamId.NTX_VOLUME,
    ParamId.NOL_HALF_LIFE,
    ParamId.NOL_VOLUME,
    ParamId.RETENTION_HALF_LIFE,
)


@dataclass(frozen=True)
class ModelParameters:
    """Typical values of one model structure (units in the field comments)."""

    structure: Structure
    ka: float  # 1/h, first-order absorption
    naltrexone_half_life: float  # h
    naltrexone_volume: float  # L per mg dose (apparent, V/F)
    naltrexol_half_life: float  # h
    naltrexol_volume: float  # L per mg dose (apparent)
    k_naltrexone: float  # ng/mL of plasma naltrexone giving odds 1 on the fast path
    naltrexol_potency_ratio: float  # K(6beta-naltrexol) / K(naltrexone)
    uptake_rate: float  # 1/h, biophase -> retained pool (0 for the plasma model)
    retention_half_life: float  # h, loss from the retained pool
    cv: dict[str, float] = field(default_factory=dict)  # ParamId -> between-subject CV

    @property
    def k_naltrexol(self) -> float:
        return self.k_naltrexone * self.naltrexol_potency_ratio


def _get(pk: PkpdParameters, ident: ParamId) -> float:
    try:
        return pk.value(ident.value)
    except KeyError:
        raise KnowledgeError(f"pkpd.yaml: parameter '{ident.value}' is missing") from None


def _cvs(pk: PkpdParameters) -> dict[str, float]:
    wanted = {p.value for p in VARIABLE}
    return {p.id: p.cv for p in pk.parameters if p.id in wanted and p.cv is not None}


def model_parameters(pk: PkpdParameters, structure: Structure) -> ModelParameters:
    """The typical parameters of `structure` from the knowledge base."""
    potency = _get(pk, ParamId.NOL_AFFINITY_RATIO) * _get(pk, ParamId.NOL_PENETRATION)
    retention = structure is Structure.RETENTION
    return ModelParameters(
        structure=structure,
        ka=_get(pk, ParamId.KA),
        naltrexone_half_life=_get(pk, ParamId.NTX_HALF_LIFE),
        naltrexone_volume=_get(pk, ParamId.NTX_VOLUME),
        naltrexol_half_life=_get(pk, ParamId.NOL_HALF_LIFE),
        naltrexol_volume=_get(pk, ParamId.NOL_VOLUME),
        k_naltrexone=_get(pk, ParamId.K_NTX if retention else ParamId.K_NTX_PLASMA),
        naltrexol_potency_ratio=potency,
        uptake_rate=_get(pk, ParamId.UPTAKE) if retention else 0.0,
        retention_half_life=_get(pk, ParamId.RETENTION_HALF_LIFE),
        cv=_cvs(pk),
    )


def default_parameters(structure: Structure = Structure.RETENTION) -> ModelParameters:
    """Parameters of the shipped knowledge base."""
    from ldn_derm.knowledge import get_knowledge

    return model_parameters(get_knowledge().pkpd, structure)
