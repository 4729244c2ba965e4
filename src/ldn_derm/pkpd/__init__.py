"""Mechanism simulator: oral naltrexone -> plasma -> mu-opioid receptor occupancy.

Two structures share the kinetics (first-order absorption; naltrexone and 6beta-naltrexol,
the latter formed during first pass, each with its own disposition; competitive occupancy by
both):

- the default model adds a slowly emptying brain pool fed from the fast biophase (fast access
  to the receptor, slow loss from it), calibrated to the PET occupancies within 8 h, the 50 mg
  blockade half-time (72-108 h) and the label's heroin blockade durations;
- the plasma-driven model lets occupancy follow plasma directly; it fits the first hours but
  not the tail, and is shown as the short-duration bound.

Solutions are closed form (sums of exponentials) and population bands are streamed in
bounded memory (`bands`). See docs/pkpd-model.md for the derivation, sources and limits.
"""

from ldn_derm.pkpd.parameters import ModelParameters, Structure, default_parameters
from ldn_derm.pkpd.schedule import DoseSchedule, parse_clock
from ldn_derm.pkpd.simulate import Band, SimulationResult, Summary, simulate

__all__ = [
    "Band",
    "DoseSchedule",
    "ModelParameters",
    "SimulationResult",
    "Structure",
    "Summary",
    "default_parameters",
    "parse_clock",
    "simulate",
]
