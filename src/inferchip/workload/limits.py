"""Bounds of a serving run that the simulator (:mod:`inferchip.sim`) and every command share.

One definition, read by the simulator's checks (``make_source``, ``simulate``) and by the CLI's
option checks (``--seed``, ``--requests``, ``--concurrency``, ``--rate`` x ``--duration``), so the
API and the command line accept and refuse the same values. Kept free of imports: the CLI reads
it on every start.

* ``MAX_SEED = 2**63 - 1``: a seed only names a random stream. numpy's ``SeedSequence`` (behind
  every generator here) takes any non-negative integer and pools it into the 128-bit state of
  PCG64, so numpy sets no bound below 2**128; the binding limit is where a seed is kept: it is
  written into results and read back as a signed 64-bit integer (numpy ``int64``, parquet and
  duckdb ``BIGINT``), whose largest value is 2**63 - 1. The CLI allowed 2**32 - 1 only (the
  legacy ``RandomState`` range, which nothing here uses).
* ``MAX_REQUESTS = 1_000_000`` per run: a run's memory and time grow with its requests times
  their output tokens. Measured (closed loop of 64 users, Llama-3.1-8B on one H100, 1,024 input
  tokens): 2.9 KB and 17 us of CPU per request at 256 output tokens, 11.5 KB and 42 us at
  1,024, so a million requests take 3 to 12 GB and under a minute of CPU; the simulator's former
  cap of 10 million needed 30 to 115 GB (more than most machines hold) and the CLI's former cap
  of 100,000 refused runs a laptop finishes in seconds.
* ``MAX_CONCURRENCY = MAX_REQUESTS``: users of a closed loop each hold a request in flight, so a
  run holds no more users than requests.
* ``MAX_CHIPS`` (chips in a system, and tp/pp/ep sizes), ``MAX_TOKENS`` (input or output tokens of
  one request; the model's context window is checked too), ``MAX_BATCH``: generous for any real
  system, small enough that a run ends; the command line's options and the case files' columns
  (``validation.cases``, ``validation.vision.cases``) share them.
* ``MAX_DOUBLINGS = 12``: the doublings (or halvings) the count search (``serve --find-count``,
  ``ic.find_count``: :func:`inferchip.sim.runs.slo.smallest_count`) tries from its starting count
  before it gives up: 4,096 times the count, about 13 runs, so an SLO no count meets ends in
  bounded time.
* ``MIN_DURATION_S = 1e-3``, ``MAX_DURATION_S = 86_400``: a simulated run's length (``serve --duration``,
  ``drive --duration``, ``ic.drive(duration_s=)``): one day of simulated arrivals or camera frames at most, a
  millisecond at least. ``drive`` and ``ic.drive`` had two bounds (86,400 s and 10,000,000 s, which no rig's
  frame count reaches anyway: 1,000 cameras at 10,000 fps hold 100 million frames in 10 s).
"""

from __future__ import annotations

MAX_SEED = 2**63 - 1
MAX_REQUESTS = 1_000_000
MAX_CONCURRENCY = MAX_REQUESTS
MAX_CHIPS = 100_000
MAX_TOKENS = 10_000_000
MAX_BATCH = 1_000_000
MAX_DOUBLINGS = 12
MIN_DURATION_S = 1e-3
MAX_DURATION_S = 86_400.0
