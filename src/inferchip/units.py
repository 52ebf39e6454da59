"""Unit conventions.

Inside the package every quantity is in SI base units and its name ends with the
unit: ``_s``, ``_bytes``, ``_flop``, ``_flop_per_s``, ``_bytes_per_s``, ``_j``,
``_w``, ``_hz``, ``_usd``. Rates use decimal prefixes (1 TB/s = 1e12 B/s); memory
capacities are converted the way their source means them (HBM and DRAM stack
capacities are binary, GiB). Conversions happen only in the catalogue loader and
in the formatting helpers of the interfaces.
"""

KILO = 1e3
MEGA = 1e6
GIGA = 1e9
TERA = 1e12
PETA = 1e15

KIB = 2**10
MIB = 2**20
GIB = 2**30

MICRO = 1e-6
MILLI = 1e-3
PICO = 1e-12

SECONDS_PER_HOUR = 3600.0
HOURS_PER_YEAR = 8766.0  # 365.25 days
