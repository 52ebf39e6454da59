"""Tokens per joule and $ per million tokens of Llama-3.1-70B-Instruct on every catalogue chip.

Setting (the issue's note table): interactive service level, TPOT <= 50 ms (max-throughput
continuous batching with ``max_tpot_s=0.05``), 1,024 input / 1,024 output tokens, fp8
weights/activations/KV where the chip has fp8 units, else bf16; each chip in its scale-up
domain, ``count = min(max_scaleup_domain, 8)``. Tokens per joule are output tokens per
joule of board power (and at the wall, with the host model of ``cost.energy.wall_power_w``);
$ per million output tokens is the TCO of ``cost.tco`` (price, or modelled manufacturing cost
where no price is public, amortised; electricity at PUE; colocation). Chips that cannot
serve the model in this setting are listed with the reason.

Prints one markdown table. Usage: ``python benchmarks/tokens_per_joule_table.py``
"""

from __future__ import annotations

from inferchip.catalog.assumptions import load_assumptions
from inferchip.catalog.chips import all_chips
from inferchip.cost.energy import wall_power_w
from inferchip.errors import InferchipError
from inferchip.performance.predict import predict

MODEL = "meta-llama/Llama-3.1-70B-Instruct"
MAX_TPOT_S = 0.05
LENGTH = 1024


def row_for(spec) -> tuple[dict | None, str | None]:
    count = min(spec.interconnect.max_scaleup_domain or 1, 8)
    weights = "fp8" if "fp8" in spec.compute.dense_tflops else "bf16"
    try:
        p = predict(spec.id, MODEL, count=count, weights=weights, input_tokens=LENGTH, output_tokens=LENGTH,
                    batch=None, max_tpot_s=MAX_TPOT_S)
    except InferchipError as exc:
        return None, f"x{count} {weights}: {str(exc).splitlines()[0]}"
    e = p.extra
    if e.get("power_w_per_chip") is None:
        return None, f"x{count} {weights}: serves it (TPOT {p.tpot_s * 1e3:.0f} ms, " \
                     f"{p.output_tokens_per_s_per_chip:,.0f} tok/s/chip) but no TDP is published: no energy"
    # at the wall: the boards plus the host's share (cost.energy.wall_power_w with the shipped assumptions);
    # computed here, as predict gives wall_power_w_per_chip only for chips with a price
    wall = float(wall_power_w(e["power_w_per_chip"] * p.num_chips, p.num_chips, load_assumptions())) / p.num_chips
    return {
        "chip": spec.id, "chips": p.num_chips, "fmt": p.weights, "layout": f"tp{p.tp} pp{p.pp} x{p.replicas}",
        "conc": p.batch, "tpot_ms": p.tpot_s * 1e3, "tok_s_chip": p.output_tokens_per_s_per_chip,
        "w_chip": e["power_w_per_chip"], "tpj_board": e["output_tokens_per_j"],
        "tpj_wall": p.output_tokens_per_s_per_chip / wall, "usd_mtok": e.get("usd_per_million_tokens"),
        "price": e.get("chip_price_source"), "throttled": e.get("throttled"),
        "over_slo": p.tpot_s > MAX_TPOT_S * (1 + 1e-9),
    }, None


def main() -> None:
    rows, refused = [], []
    for spec in all_chips():
        r, why = row_for(spec)
        if r is None:
            refused.append((spec.id, why))
        else:
            rows.append(r)
    rows.sort(key=lambda r: -r["tpj_board"])
    print(f"### {MODEL}, TPOT <= {MAX_TPOT_S * 1e3:.0f} ms, {LENGTH} in / {LENGTH} out, "
          "fp8 where the chip has it (else bf16), count = min(scale-up domain, 8)\n")
    print("| chip | chips | format | layout | concurrency/replica | TPOT ms | output tok/s/chip | board W/chip "
          "| tok/J (board) | tok/J (wall) | $/Mtok (TCO) | price basis |")
    print("|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        usd = "-" if r["usd_mtok"] is None else f"{r['usd_mtok']:.3f}"
        basis = "no price, no silicon data" if r["usd_mtok"] is None else (
            "reported price" if r["price"] == "reported price" else "modelled mfg cost")
        tpot = f"{r['tpot_ms']:.1f}" + (" (over: TDP throttling)" if r["over_slo"] else "")
        print(f"| {r['chip']} | {r['chips']} | {r['fmt']} | {r['layout']} | {r['conc']} | {tpot} "
              f"| {r['tok_s_chip']:,.0f} | {r['w_chip']:,.0f}{' (at TDP)' if r['throttled'] else ''} "
              f"| {r['tpj_board']:.2f} | {r['tpj_wall']:.2f} | {usd} | {basis} |")
    print("\n'at TDP': the step's event energy exceeds the power limit, so clocks throttle and steps stretch; "
          "'over': the concurrency was chosen before that stretch (predict applies the TPOT limit first).")
    print("\nCannot serve it in this setting (or no energy figure):\n")
    for cid, why in refused:
        print(f"- {cid}: {why}")


if __name__ == "__main__":
    main()
