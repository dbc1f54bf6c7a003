"""The per-document hashing pass of dedup, compiled with numba.

One pass over each document's UTF-8 bytes gives everything dedup needs: the exact-match
hash of its normalised text, its MinHash signature and LSH band keys, and, when asked,
a hash per line and its shingle hashes.

Written by hand (with numba) because the libraries are too slow for the command's goal
of matching a Rust MinHash: datasketch updates one shingle at a time from Python, and a
numpy version must materialise a (shingles x permutations) uint64 matrix, whose 64-bit
multiply has no SIMD form on AVX2 CPUs. Measured on 20,000 web documents: numpy 1.5 ns
per shingle-permutation, this loop 0.15 ns; pyarrow's NFC and whitespace regex alone
took 1.5 s, against about 0.1 s for the decoding and normalising done here.

Normalisation, the same for every hash: lower case (str.lower, one code point to one),
runs of whitespace as one space, no leading or trailing space. NFC is done in Python
before (unicodedata, which skips text that is already NFC). For shingles, additionally:
a word is a run of letters, marks and digits (punctuation and symbols separate words);
every run of digits counts as the digit 0; in character mode (Korean, Chinese,
Japanese) each letter or digit run is a token and marks, spaces and punctuation are
skipped, so spacing differences do not matter.
"""

from __future__ import annotations

import numba as nb
import numpy as np

# Character classes of the table the caller passes (see tables.py).
SPACE, PUNCT, DIGIT, LETTER, MARK = 0, 1, 2, 3, 4

_P1 = np.uint64(0x9E3779B185EBCA87)  # xxh64's primes: good odd multipliers
_P2 = np.uint64(0xC2B2AE3D27D4EB4F)
_P3 = np.uint64(0x165667B19E3779F9)
_M1 = np.uint64(0xBF58476D1CE4E5B9)  # splitmix64's finaliser
_M2 = np.uint64(0x94D049BB133111EB)
_SEED_EXACT_A = np.uint64(0x243F6A8885A308D3)
_SEED_EXACT_B = np.uint64(0x13198A2E03707344)
_SEED_TOKEN = np.uint64(0xA4093822299F31D0)
_SEED_SHINGLE = np.uint64(0x082EFA98EC4E6C89)
_SEED_BAND = np.uint64(0x452821E638D01377)
_SEED_LINE = np.uint64(0xBE5466CF34E90C6C)
_MAX = np.uint64(0xFFFFFFFFFFFFFFFF)
_SPACE_CP = np.uint64(32)
_ZERO_CP = np.uint64(48)
_S27 = np.uint64(27)
_S30 = np.uint64(30)
_S31 = np.uint64(31)
_S32 = np.uint64(32)
_S33 = np.uint64(33)


@nb.njit(inline="always")
def _finalise(x):
    x ^= x >> _S30
    x *= _M1
    x ^= x >> _S27
    x *= _M2
    x ^= x >> _S31
    return x


@nb.njit(inline="always")
def _round(acc, value):
    """xxh64's accumulator round: not linear in its input, unlike a plain polynomial hash."""
    acc += value * _P2
    acc = (acc << _S31) | (acc >> _S33)
    return acc * _P1


@nb.njit(inline="always")
def _reserve(array, used, needed):
    """`array` with room for `needed` more values after the first `used` (grown at most once per call)."""
    if used + needed <= array.shape[0]:
        return array
    bigger = np.empty(max(2 * array.shape[0], used + needed), array.dtype)
    bigger[:used] = array[:used]
    return bigger


@nb.njit(inline="always")
def _decode(data, start, end, classes, lower, cps, kinds):
    """UTF-8 bytes to lower-case code points and their classes; returns how many."""
    m = 0
    i = start
    while i < end:
        b0 = np.int64(data[i])
        if b0 < 0x80:
            cp = b0
            i += 1
        elif b0 < 0xE0:
            cp = ((b0 & 0x1F) << 6) | (np.int64(data[i + 1]) & 0x3F)
            i += 2
        elif b0 < 0xF0:
            cp = ((b0 & 0x0F) << 12) | ((np.int64(data[i + 1]) & 0x3F) << 6) | (np.int64(data[i + 2]) & 0x3F)
            i += 3
        else:
            cp = (
                ((b0 & 0x07) << 18)
                | ((np.int64(data[i + 1]) & 0x3F) << 12)
                | ((np.int64(data[i + 2]) & 0x3F) << 6)
                | (np.int64(data[i + 3]) & 0x3F)
            )
            i += 4
        if cp < 65536:
            kinds[m] = classes[cp]
            cps[m] = lower[cp]
        else:
            kinds[m] = PUNCT if 0x1F000 <= cp < 0x1FB00 else LETTER  # emoji and pictographs are symbols
            cps[m] = cp
        m += 1
    return m


@nb.njit(inline="always")
def _feed(acc_a, acc_b, chars, pending, kind, cp):
    """One character into the two-lane normalised hash: whitespace runs as one space, trimmed."""
    if kind == SPACE:
        return acc_a, acc_b, chars, chars > 0
    if pending:
        acc_a = _round(acc_a, _SPACE_CP)
        acc_b = _round(acc_b, _SPACE_CP ^ _P3)
        chars += 1
    value = np.uint64(cp)
    return _round(acc_a, value), _round(acc_b, value ^ _P3), chars + 1, False


@nb.njit(inline="always")
def _normalised_hash(cps, kinds, start, end, seed_a, seed_b):
    """Two 64-bit hashes of cps[start:end] with whitespace runs as one space, trimmed; and its length.

    The two lanes run in one loop so that the CPU overlaps their multiplications.
    """
    acc_a = seed_a
    acc_b = seed_b
    chars = 0
    pending = False
    for position in range(start, end):
        acc_a, acc_b, chars, pending = _feed(acc_a, acc_b, chars, pending, kinds[position], cps[position])
    length = np.uint64(chars)
    return _finalise(acc_a ^ length), _finalise(acc_b ^ length), chars


@nb.njit(inline="always")
def _exact_hash_and_word_tokens(cps, kinds, m, tokens):
    """`_normalised_hash` of the whole text, and its word tokens, in one loop; returns how many tokens.

    Tokens: runs of letters, marks and digits (a digit run as one 0). The three hash
    chains are independent, so the CPU overlaps their multiplications: the kernel takes
    about 15% less time than with two loops.
    """
    acc_a = _SEED_EXACT_A
    acc_b = _SEED_EXACT_B
    chars = 0
    pending = False
    t = 0
    token = _SEED_TOKEN
    in_token = False
    last_digit = False
    for position in range(m):
        kind = kinds[position]
        acc_a, acc_b, chars, pending = _feed(acc_a, acc_b, chars, pending, kind, cps[position])
        if kind == LETTER or kind == MARK:  # noqa: SIM109 - numba compiles this form
            token = _round(token, np.uint64(cps[position]))
            in_token = True
            last_digit = False
        elif kind == DIGIT:
            if not last_digit:
                token = _round(token, _ZERO_CP)
            in_token = True
            last_digit = True
        else:
            if in_token:
                tokens[t] = _finalise(token)
                t += 1
                token = _SEED_TOKEN
                in_token = False
            last_digit = False
    if in_token:
        tokens[t] = _finalise(token)
        t += 1
    length = np.uint64(chars)
    return _finalise(acc_a ^ length), _finalise(acc_b ^ length), t


@nb.njit(inline="always")
def _character_tokens(cps, kinds, m, tokens):
    """Each letter, and each run of digits as one 0, as a token; spaces, marks and punctuation skipped."""
    t = 0
    last_digit = False
    for position in range(m):
        kind = kinds[position]
        if kind == LETTER:
            tokens[t] = _finalise(np.uint64(cps[position]) ^ _SEED_TOKEN)
            t += 1
            last_digit = False
        elif kind == DIGIT:
            if not last_digit:
                tokens[t] = _finalise(_ZERO_CP ^ _SEED_TOKEN)
                t += 1
            last_digit = True
        elif kind != MARK:
            last_digit = False
    return t


@nb.njit(inline="always")
def _shingle_hashes(tokens, t, n, out):
    """Hashes of every run of n tokens (one of all tokens when fewer); returns how many."""
    if t == 0:
        return 0
    width = min(n, t)
    count = t - width + 1
    for first in range(count):
        h = _SEED_SHINGLE
        for offset in range(width):
            h = _round(h, tokens[first + offset])
        out[first] = _finalise(h)
    return count


@nb.njit(inline="always")
def _min_hash(shingles, s, perm_a, perm_b, signature):
    k = perm_a.shape[0]
    for j in range(k):
        signature[j] = _MAX
    for position in range(s):
        x = shingles[position]
        for j in range(k):
            v = x * perm_a[j] + perm_b[j]
            v ^= v >> _S32
            signature[j] = min(signature[j], v)


@nb.njit(cache=True, nogil=True)
def hash_documents(
    data,  # uint8: the UTF-8 bytes of all documents, end to end
    offsets,  # int64 (n + 1): document i is data[offsets[i]:offsets[i + 1]]
    char_mode,  # bool (n): character n-grams instead of word n-grams
    word_n,
    char_n,
    classes,  # uint8 (65536): character class of each BMP code point
    lower,  # int32 (65536): lower-case code point of each BMP code point
    perm_a,  # uint64 (k): odd multipliers of the k hash functions
    perm_b,  # uint64 (k)
    rows,  # signature values per LSH band
    exact_out,  # uint64 (n, 2): 128-bit hash of the normalised text
    bands_out,  # uint64 (n, bands): LSH band keys; bands x rows <= k
    signature_out,  # uint64 (n, k), or (0, k) when signatures are not wanted
    tokens_out,  # int64 (n): tokens counted for shingles (0: no signature)
    want_lines,
    want_shingles,
):
    n_docs = offsets.shape[0] - 1
    k = perm_a.shape[0]
    n_bands = bands_out.shape[1]
    keep_signatures = signature_out.shape[0] == n_docs
    longest = 0
    for d in range(n_docs):
        longest = max(longest, offsets[d + 1] - offsets[d])
    cps = np.empty(longest, np.int32)
    kinds = np.empty(longest, np.uint8)
    tokens = np.empty(longest + 1, np.uint64)
    doc_shingles = np.empty(longest + 1, np.uint64)
    signature = np.empty(k, np.uint64)
    line_hashes = np.empty(0, np.uint64)
    if want_lines:  # one hash per line: at most one per newline byte, plus one per document
        newlines = 0
        for position in range(offsets[0], offsets[n_docs]):
            newlines += data[position] == 10
        line_hashes = np.empty(newlines + n_docs, np.uint64)
    line_counts = np.zeros(n_docs, np.int64)
    lines_used = 0
    shingles = np.empty(1024 if want_shingles else 0, np.uint64)
    shingle_counts = np.zeros(n_docs, np.int64)
    shingles_used = 0

    for d in range(n_docs):
        m = _decode(data, offsets[d], offsets[d + 1], classes, lower, cps, kinds)
        if want_lines:  # str.split("\n") lines; a blank line hashes to 0
            line_start = 0
            for position in range(m + 1):
                if position == m or cps[position] == 10:
                    value, _, chars = _normalised_hash(cps, kinds, line_start, position, _SEED_LINE, _SEED_LINE)
                    line_hashes[lines_used] = value if chars else np.uint64(0)
                    lines_used += 1
                    line_counts[d] += 1
                    line_start = position + 1
        if char_mode[d]:
            exact_out[d, 0], exact_out[d, 1], _ = _normalised_hash(cps, kinds, 0, m, _SEED_EXACT_A, _SEED_EXACT_B)
            t = _character_tokens(cps, kinds, m, tokens)
            s = _shingle_hashes(tokens, t, char_n, doc_shingles)
        else:
            exact_out[d, 0], exact_out[d, 1], t = _exact_hash_and_word_tokens(cps, kinds, m, tokens)
            s = _shingle_hashes(tokens, t, word_n, doc_shingles)
        tokens_out[d] = t
        _min_hash(doc_shingles, s, perm_a, perm_b, signature)
        for band in range(n_bands):
            h = _SEED_BAND ^ np.uint64(band)
            for r in range(rows):
                h = _round(h, signature[band * rows + r])
            bands_out[d, band] = _finalise(h) if t else np.uint64(0)
        if keep_signatures:
            for j in range(k):
                signature_out[d, j] = signature[j]
        if want_shingles:  # a set: sorted, each hash once
            part = np.sort(doc_shingles[:s])
            shingles = _reserve(shingles, shingles_used, s)
            unique = 0
            for position in range(s):
                if position == 0 or part[position] != part[position - 1]:
                    shingles[shingles_used] = part[position]
                    shingles_used += 1
                    unique += 1
            shingle_counts[d] = unique
    return line_hashes[:lines_used].copy(), line_counts, shingles[:shingles_used].copy(), shingle_counts
