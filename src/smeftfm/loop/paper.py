"""The ALETHEIA paper's reference numbers (its Table 2, residual-energy arm), in one place.

Read by the loop stage (``loop.json`` ``paper``) and by the report's comparison table.
"""

from __future__ import annotations

__all__ = ["PAPER"]

#: sigma_1 collapse factors (pre/post), psi-extensions, cycles to completion, and whether unlocking the vertex
#: tier triggered an extension.
PAPER = {"collapse_first": 31.0, "collapse_overall": 155.0, "n_extensions": 4, "cycles_to_completion": 10,
         "unlock_triggers_extension": False, "sigma1_cycle0": 4.03}
