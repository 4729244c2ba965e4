"""Virtual subjects: log-normal between-subject variability on the kinetic parameters.

Each variable parameter is `typical * exp(omega * z)` with z standard normal and
omega = sqrt(ln(1 + CV^2)), so the typical value is the population median. The same seed gives
the same subjects for both model structures, so their comparison is paired.
"""

from __future__ import annotations

import math

import numpy as np

from ldn_derm.errors import SimulationError
from ldn_derm.pkpd.model import Subjects
from ldn_derm.pkpd.parameters import LN2, VARIABLE, ModelParameters, ParamId

MAX_SUBJECTS = 1_000_000


def omega(cv: float) -> float:
    """Log-scale SD of a log-normal with coefficient of variation `cv`."""
    return math.sqrt(math.log1p(cv * cv))


def check_subjects(n: int) -> int:
    if isinstance(n, bool) or int(n) != n:
        raise SimulationError(f"the number of virtual subjects must be a whole number ({n!r})")
    if n < 1:
        raise SimulationError("the number of virtual subjects must be at least 1")
    if n > MAX_SUBJECTS:
        raise SimulationError(
            f"{int(n):,} virtual subjects is more than the limit of {MAX_SUBJECTS:,}; "
            "100,000 already gives stable 5th-95th percentile bands"
        )
    return int(n)


def sample_subjects(params: ModelParameters, n: int, seed: int) -> Subjects:
    """`n` virtual subjects drawn with `seed` (reproducible)."""
    n = check_subjects(n)
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise SimulationError(f"the seed must be a whole number of 0 or more ({seed!r})")
    rng = np.random.default_rng(int(seed))
    z = rng.standard_normal((len(VARIABLE), n))
    factor = {
        pid: np.exp(omega(params.cv.get(pid.value, 0.0)) * z[i]) for i, pid in enumerate(VARIABLE)
    }
    typical = Subjects.typical(params, n)
    return Subjects(
        ka=typical.ka * factor[ParamId.KA],
        # a longer half-life is a smaller rate constant
        k_naltrexone_elim=(LN2 / params.naltrexone_half_life) / factor[ParamId.NTX_HALF_LIFE],
        naltrexone_volume=typical.naltrexone_volume * factor[ParamId.NTX_VOLUME],
        k_naltrexol_elim=(LN2 / params.naltrexol_half_life) / factor[ParamId.NOL_HALF_LIFE],
        naltrexol_volume=typical.naltrexol_volume * factor[ParamId.NOL_VOLUME],
        k_loss=(LN2 / params.retention_half_life) / factor[ParamId.RETENTION_HALF_LIFE],
        k_naltrexone=typical.k_naltrexone,
        k_naltrexol=typical.k_naltrexol,
        uptake=typical.uptake,
    )
