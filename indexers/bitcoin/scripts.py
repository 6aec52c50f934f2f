"""scriptPubKeys to script types and addresses, once per distinct script.

Addresses are derived from the output scripts alone, with the network given explicitly and
Bitcoin Core's encodings (:data:`NETWORKS`), so a Bitcoin Core node and a bcoin node index to
the same rows: bcoin's regtest shows P2PKH addresses with its own prefix (``R...``), Core and
this module with ``m``/``n`` (version 0x6f), P2SH with ``2`` (0xc4) and segwit with ``bcrt1``.

Classification follows Bitcoin Core's ``Solver`` (``script/solver.cpp``), in its order:

===================  ======================================================  ===================
script_type          script                                                  address
===================  ======================================================  ===================
``p2sh``             ``OP_HASH160 <20> OP_EQUAL``                            base58check, P2SH
``p2wpkh``           ``OP_0 <20>``                                           bech32 (BIP173)
``p2wsh``            ``OP_0 <32>``                                           bech32
``p2tr``             ``OP_1 <32>``                                           bech32m (BIP350)
``witness_unknown``  ``OP_1..OP_16 <2..40>`` otherwise (future versions,     bech32m, as Core
                     v1 of another length, the pay-to-anchor ``OP_1 <4e73>``)
``nulldata``         ``OP_RETURN`` then only pushes                          None
``p2pk``             ``<33 or 65-byte pubkey> OP_CHECKSIG``                  P2PKH of its hash160
``p2pkh``            ``OP_DUP OP_HASH160 <20> OP_EQUALVERIFY OP_CHECKSIG``   base58check, P2PKH
``multisig``         bare ``m <pubkeys> n OP_CHECKMULTISIG`` (n <= 20)       None
``nonstandard``      anything else, e.g. ``OP_0 <n>`` with n not 20 or 32    None
===================  ======================================================  ===================

A pubkey is accepted by its length and first byte (02/03 and 33 bytes, 04/06/07 and 65 bytes),
as Core's ``CPubKey::ValidSize``; the curve point is not checked. The names are bitcoinlib's
where it has one (``p2pkh``, ``p2sh``, ``p2wpkh``, ``p2wsh``, ``p2tr``, ``p2pk``, ``multisig``,
``nulldata``) and Core's otherwise. Two documented differences from bitcoinlib 0.7.10:
bitcoinlib calls any witness version >= 1 ``p2tr``, and it gives some non-standard scripts an
address (a bare "multisig" whose keys are not pubkeys, as Counterparty writes them) which Core
and this module do not.

The encoders are Numba kernels (base58, bech32/bech32m) over all distinct scripts at once;
bitcoinlib's pure-Python encoders (15-50 microseconds per address) would cap the parser near
20,000 transactions/s. The tests check every address of the mainnet fixture blocks against
bitcoinlib and the BIP173/BIP350 vectors.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from numba import njit

from exposure.errors import InputError


@dataclass(frozen=True)
class NetworkParams:
    """What differs between Bitcoin networks for this package (Bitcoin Core's chainparams)."""

    name: str
    p2pkh_version: int
    p2sh_version: int
    bech32_hrp: str
    #: The 4 bytes that start every message and every ``blk*.dat`` record.
    magic: bytes
    genesis_hash: str
    #: The easiest target a header may claim, in compact form (``powLimit``).
    pow_limit_bits: int


NETWORKS: dict[str, NetworkParams] = {
    p.name: p
    for p in (
        NetworkParams(
            "bitcoin", 0x00, 0x05, "bc", bytes.fromhex("f9beb4d9"),
            "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f", 0x1D00FFFF,
        ),
        NetworkParams(
            "testnet", 0x6F, 0xC4, "tb", bytes.fromhex("0b110907"),
            "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943", 0x1D00FFFF,
        ),
        NetworkParams(
            "testnet4", 0x6F, 0xC4, "tb", bytes.fromhex("1c163f28"),
            "00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043", 0x1D00FFFF,
        ),
        NetworkParams(  # the default signet; a custom signet has its own magic and genesis
            "signet", 0x6F, 0xC4, "tb", bytes.fromhex("0a03cf40"),
            "00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6", 0x1E0377AE,
        ),
        NetworkParams(
            "regtest", 0x6F, 0xC4, "bcrt", bytes.fromhex("fabfb5da"),
            "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206", 0x207FFFFF,
        ),
    )
}


def network_params(network: str) -> NetworkParams:
    """The parameters of ``network``; an unknown name is an InputError listing the known ones."""
    try:
        return NETWORKS[network]
    except KeyError:
        raise InputError(
            f"unknown Bitcoin network {network!r}: use one of {', '.join(NETWORKS)}"
        ) from None


# Kinds (``script_type`` codes of the kernels) and their names, in code order.
NONSTANDARD, P2PKH, P2SH, P2WPKH, P2WSH, P2TR, WITNESS_UNKNOWN, P2PK, MULTISIG, NULLDATA = range(10)
SCRIPT_TYPES = (
    "nonstandard", "p2pkh", "p2sh", "p2wpkh", "p2wsh", "p2tr", "witness_unknown", "p2pk",
    "multisig", "nulldata",
)
#: Bitcoin Core's ``MAX_PUBKEYS_PER_MULTISIG``.
MAX_MULTISIG_KEYS = 20
#: Width of one address in the encoders' output rows (bech32 of a 40-byte program is 76 chars).
ADDRESS_WIDTH = 96

_BASE58 = np.frombuffer(b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz", np.uint8)
_BECH32 = np.frombuffer(b"qpzry9x8gf2tvdw0s3jn54khce6mua7l", np.uint8)
_BECH32_GEN = np.array([0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3], np.int64)
_BECH32M_CONST = 0x2BC830A3


# --------------------------------------------------------------------------------------------
# Kernels (numpy and numba only)
# --------------------------------------------------------------------------------------------


#: SHA-256 round constants and initial state (FIPS 180-4).
_SHA_K = np.array(
    [
        0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4,
        0xAB1C5ED5, 0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE,
        0x9BDC06A7, 0xC19BF174, 0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F,
        0x4A7484AA, 0x5CB0A9DC, 0x76F988DA, 0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7,
        0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967, 0x27B70A85, 0x2E1B2138, 0x4D2C6DFC,
        0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85, 0xA2BFE8A1, 0xA81A664B,
        0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070, 0x19A4C116,
        0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
        0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7,
        0xC67178F2,
    ],
    dtype=np.uint32,
)
_SHA_H0 = np.array(
    [0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB,
     0x5BE0CD19],
    dtype=np.uint32,
)


@njit(cache=True, nogil=True, inline="always")
def _rotr(x, n):
    return (x >> np.uint32(n)) | (x << np.uint32(32 - n))


@njit(cache=True, nogil=True)
def _sha256_compress(state, block, w):
    """One SHA-256 compression of a 64-byte ``block`` into ``state`` (uint32[8]).

    Sums are truncated back to uint32 explicitly (numba widens scalar arithmetic); ``w`` is
    uint32[64] scratch.
    """
    for i in range(16):
        w[i] = (
            (np.uint32(block[4 * i]) << np.uint32(24))
            | (np.uint32(block[4 * i + 1]) << np.uint32(16))
            | (np.uint32(block[4 * i + 2]) << np.uint32(8))
            | np.uint32(block[4 * i + 3])
        )
    for i in range(16, 64):
        x = w[i - 15]
        y = w[i - 2]
        s0 = _rotr(x, 7) ^ _rotr(x, 18) ^ (x >> np.uint32(3))
        s1 = _rotr(y, 17) ^ _rotr(y, 19) ^ (y >> np.uint32(10))
        w[i] = np.uint32(w[i - 16] + s0 + w[i - 7] + s1)
    a, b, c, d, e, f, g, h = (
        state[0], state[1], state[2], state[3], state[4], state[5], state[6], state[7]
    )
    for i in range(64):
        t1 = np.uint32(
            h
            + (_rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25))
            + ((e & f) ^ (~e & g))
            + _SHA_K[i]
            + w[i]
        )
        t2 = np.uint32((_rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c)))
        h = g
        g = f
        f = e
        e = np.uint32(d + t1)
        d = c
        c = b
        b = a
        a = np.uint32(t1 + t2)
    state[0] += a
    state[1] += b
    state[2] += c
    state[3] += d
    state[4] += e
    state[5] += f
    state[6] += g
    state[7] += h


@njit(cache=True, nogil=True)
def _sha256(msg, n, pad, state, w, out):
    """SHA-256 of ``msg[:n]`` (n <= 119) into ``out`` (uint8[32]); ``pad`` is uint8[128] scratch."""
    for i in range(8):
        state[i] = _SHA_H0[i]
    blocks = 1 if n <= 55 else 2
    pad[:] = 0
    pad[:n] = msg[:n]
    pad[n] = 0x80
    bits = np.int64(n) * 8
    last = 64 * blocks
    for i in range(8):
        pad[last - 1 - i] = (bits >> (8 * i)) & 0xFF
    for blk in range(blocks):
        _sha256_compress(state, pad[64 * blk : 64 * blk + 64], w)
    for i in range(8):
        out[4 * i] = (state[i] >> np.uint32(24)) & np.uint32(0xFF)
        out[4 * i + 1] = (state[i] >> np.uint32(16)) & np.uint32(0xFF)
        out[4 * i + 2] = (state[i] >> np.uint32(8)) & np.uint32(0xFF)
        out[4 * i + 3] = state[i] & np.uint32(0xFF)


@njit(cache=True, nogil=True)
def sha256d_rows(msgs, out):
    """Double SHA-256 of every row: ``out[k] = sha256(sha256(msgs[k]))``.

    Parameters
    ----------
    msgs : uint8[K, L]
        One message per row, L <= 119 (21 for base58check payloads, 64 for merkle pairs).
    out : uint8[K, 32]
        Out: the digests, internal byte order.
    """
    state = np.empty(8, dtype=np.uint32)
    w = np.empty(64, dtype=np.uint32)
    pad = np.empty(128, dtype=np.uint8)
    first = np.empty(32, dtype=np.uint8)
    n = msgs.shape[1]
    for k in range(msgs.shape[0]):
        _sha256(msgs[k], n, pad, state, w, first)
        _sha256(first, 32, pad, state, w, out[k])


@njit(cache=True, nogil=True)
def _get_op(s, pos, end):
    """Read one script operation at ``pos`` (Bitcoin Core's ``GetScriptOp``).

    Parameters
    ----------
    s : uint8[N]
        Script bytes; the script ends at ``end`` (exclusive).
    pos, end : int

    Returns
    -------
    opcode : int64
    data_off, data_len : int64
        The pushed data (0, 0 for a non-push opcode).
    next_pos : int64
        Position after the operation, -1 when the push runs past ``end``.
    """
    if pos >= end:
        return np.int64(-1), np.int64(0), np.int64(0), np.int64(-1)
    op = np.int64(s[pos])
    pos += 1
    if op > 0x4E:  # not a push (OP_PUSHDATA4 = 0x4e)
        return op, np.int64(0), np.int64(0), np.int64(pos)
    if op < 0x4C:
        n = op
    else:
        width = 1 if op == 0x4C else (2 if op == 0x4D else 4)
        if pos + width > end:
            return op, np.int64(0), np.int64(0), np.int64(-1)
        n = np.int64(0)
        for k in range(width):
            n |= np.int64(s[pos + k]) << (8 * k)
        pos += width
    if pos + n > end:
        return op, np.int64(0), np.int64(0), np.int64(-1)
    return op, np.int64(pos), n, np.int64(pos + n)


@njit(cache=True, nogil=True)
def _pubkey_size_ok(s, off, n):
    """Core's ``CPubKey::ValidSize``: 33 bytes after 02/03, 65 bytes after 04/06/07."""
    if n == 0:
        return False
    first = s[off]
    if first == 2 or first == 3:
        return n == 33
    if first == 4 or first == 6 or first == 7:
        return n == 65
    return False


@njit(cache=True, nogil=True)
def _multisig_number(s, op, off, n, low):
    """Core's ``GetScriptNumber`` for multisig counts in ``[low, 20]``; -1 when not one."""
    if 0x51 <= op <= 0x60:  # OP_1..OP_16
        value = op - 0x50
    elif op == 1 and n == 1 and 17 <= s[off] <= MAX_MULTISIG_KEYS:  # minimal push of 17..20
        value = np.int64(s[off])
    else:
        return -1
    if value < low or value > MAX_MULTISIG_KEYS:
        return -1
    return value


@njit(cache=True, nogil=True)
def _is_multisig(s, start, end):
    """Core's ``MatchMultisig``: ``m <pubkey>... n OP_CHECKMULTISIG`` with n pubkeys, m <= n."""
    if end - start < 1 or s[end - 1] != 0xAE:
        return False
    op, off, n, pos = _get_op(s, start, end)
    if pos < 0:
        return False
    m = _multisig_number(s, op, off, n, 1)
    if m < 0:
        return False
    keys = 0
    while True:
        op, off, n, pos = _get_op(s, pos, end)
        if pos < 0:
            return False
        if not _pubkey_size_ok(s, off, n):
            break
        keys += 1
    count = _multisig_number(s, op, off, n, m)
    return count >= 0 and count == keys and pos + 1 == end


@njit(cache=True, nogil=True)
def _is_push_only(s, pos, end):
    """Core's ``IsPushOnly``: every operation from ``pos`` parses and is at most OP_16."""
    while pos < end:
        op, _off, _n, pos = _get_op(s, pos, end)
        if pos < 0 or op > 0x60:
            return False
    return True


@njit(cache=True, nogil=True)
def classify_kernel(data, offsets, kinds, prog_off, prog_len, witver):
    """Classify scripts as Bitcoin Core's ``Solver`` does; locate what the address encodes.

    Parameters
    ----------
    data : uint8[M]
        Script bytes, back to back.
    offsets : int64[R + 1]
        Script ``r`` is ``data[offsets[r]:offsets[r + 1]]``.
    kinds : uint8[R]
        Out: the kind code (``NONSTANDARD`` ... ``NULLDATA``; names in ``SCRIPT_TYPES``).
    prog_off, prog_len : int64[R]
        Out: absolute offset and length of the hash, witness program or pubkey the address
        encodes (0, 0 for kinds without an address).
    witver : int64[R]
        Out: the witness version of witness kinds, else -1.
    """
    for r in range(offsets.shape[0] - 1):
        a = offsets[r]
        e = offsets[r + 1]
        n = e - a
        kind = NONSTANDARD
        po = np.int64(0)
        pl = np.int64(0)
        wv = np.int64(-1)
        if n == 23 and data[a] == 0xA9 and data[a + 1] == 0x14 and data[a + 22] == 0x87:
            kind, po, pl = P2SH, a + 2, 20
        elif (
            4 <= n <= 42
            and (data[a] == 0 or 0x51 <= data[a] <= 0x60)
            and np.int64(data[a + 1]) + 2 == n
        ):
            version = 0 if data[a] == 0 else np.int64(data[a]) - 0x50
            size = n - 2
            if version == 0:
                if size == 20:
                    kind = P2WPKH
                elif size == 32:
                    kind = P2WSH
            elif version == 1 and size == 32:
                kind = P2TR
            else:
                kind = WITNESS_UNKNOWN
            if kind != NONSTANDARD:
                po, pl, wv = a + 2, size, version
        elif n >= 1 and data[a] == 0x6A and _is_push_only(data, a + 1, e):
            kind = NULLDATA
        elif (
            (n == 35 or n == 67)
            and np.int64(data[a]) == n - 2
            and data[e - 1] == 0xAC
            and _pubkey_size_ok(data, a + 1, n - 2)
        ):
            kind, po, pl = P2PK, a + 1, n - 2
        elif (
            n == 25
            and data[a] == 0x76
            and data[a + 1] == 0xA9
            and data[a + 2] == 0x14
            and data[a + 23] == 0x88
            and data[a + 24] == 0xAC
        ):
            kind, po, pl = P2PKH, a + 3, 20
        elif _is_multisig(data, a, e):
            kind = MULTISIG
        kinds[r] = kind
        prog_off[r] = po
        prog_len[r] = pl
        witver[r] = wv


#: Base58 digits are produced five at a time: limbs in base 58**5 (< 2**30), fed 32-bit words.
_B58_LIMB = 58**5


@njit(cache=True, nogil=True)
def base58_kernel(payloads, rows, out, lens):
    """Base58-encode payloads (version, hash160, checksum) into rows of ``out``.

    The big-endian payload is fed 32 bits at a time into little-endian limbs of base 58**5
    (``limb * 2**32 + carry`` stays below 2**63), then each limb gives five digits.

    Parameters
    ----------
    payloads : uint8[K, W]
        W <= 28 (25 for addresses).
    rows : int64[K]
        Payload ``k`` is written to ``out[rows[k]]``.
    out : uint8[R, ADDRESS_WIDTH]
        Out: the address characters (ASCII), left-aligned.
    lens : int64[R]
        Out: ``lens[rows[k]]`` = the address length (at most 35 for W = 25).
    """
    width = payloads.shape[1]
    limbs = np.zeros(8, dtype=np.int64)
    digits = np.zeros(40, dtype=np.int64)
    head = width % 4 if width % 4 else 4
    for k in range(payloads.shape[0]):
        zeros = 0
        while zeros < width and payloads[k, zeros] == 0:
            zeros += 1
        nlimb = 0
        i = 0
        group = head
        while i < width:
            word = np.int64(0)
            for j in range(group):
                word = (word << 8) | np.int64(payloads[k, i + j])
            i += group
            carry = word
            for j in range(nlimb):
                x = limbs[j] * (np.int64(1) << (8 * group)) + carry
                limbs[j] = x % _B58_LIMB
                carry = x // _B58_LIMB
            while carry > 0:
                limbs[nlimb] = carry % _B58_LIMB
                carry //= _B58_LIMB
                nlimb += 1
            group = 4
        ndig = 0
        for j in range(nlimb):
            x = limbs[j]
            for _ in range(5):
                digits[ndig] = x % 58
                x //= 58
                ndig += 1
        while ndig > 0 and digits[ndig - 1] == 0:
            ndig -= 1
        r = rows[k]
        for j in range(zeros):
            out[r, j] = _BASE58[0]
        for j in range(ndig):
            out[r, zeros + j] = _BASE58[digits[ndig - 1 - j]]
        lens[r] = zeros + ndig


@njit(cache=True, nogil=True)
def _polymod_step(chk, value):
    """One step of the bech32 checksum (BIP173 ``bech32_polymod``)."""
    top = chk >> 25
    chk = ((chk & 0x1FFFFFF) << 5) ^ value
    for i in range(5):
        if (top >> i) & 1:
            chk ^= _BECH32_GEN[i]
    return chk


@njit(cache=True, nogil=True)
def bech32_kernel(data, prog_off, prog_len, witver, rows, hrp, out, lens):
    """Encode witness programs as segwit addresses: bech32 for v0, bech32m for v1+ (BIP350).

    Parameters
    ----------
    data : uint8[M]
        Bytes holding the programs.
    prog_off, prog_len, witver : int64[K]
        Program ``k`` is ``data[prog_off[k]:prog_off[k] + prog_len[k]]`` (2..40 bytes) of
        witness version ``witver[k]`` (0..16).
    rows : int64[K]
        Program ``k`` is written to ``out[rows[k]]``.
    hrp : uint8[H]
        The human-readable part (``bc``, ``tb``, ``bcrt``), lowercase ASCII.
    out : uint8[R, ADDRESS_WIDTH]
        Out: the address characters, left-aligned.
    lens : int64[R]
        Out: ``lens[rows[k]]`` = the address length.
    """
    values = np.zeros(80, dtype=np.int64)
    h = hrp.shape[0]
    for k in range(prog_off.shape[0]):
        values[0] = witver[k]
        nv = 1
        acc = np.int64(0)
        bits = 0
        for i in range(prog_len[k]):
            acc = ((acc << 8) | np.int64(data[prog_off[k] + i])) & 0xFFF
            bits += 8
            while bits >= 5:
                bits -= 5
                values[nv] = (acc >> bits) & 31
                nv += 1
        if bits > 0:
            values[nv] = (acc << (5 - bits)) & 31
            nv += 1
        chk = np.int64(1)
        for i in range(h):
            chk = _polymod_step(chk, np.int64(hrp[i]) >> 5)
        chk = _polymod_step(chk, np.int64(0))
        for i in range(h):
            chk = _polymod_step(chk, np.int64(hrp[i]) & 31)
        for i in range(nv):
            chk = _polymod_step(chk, values[i])
        for _ in range(6):
            chk = _polymod_step(chk, np.int64(0))
        chk ^= 1 if witver[k] == 0 else _BECH32M_CONST
        r = rows[k]
        for i in range(h):
            out[r, i] = hrp[i]
        out[r, h] = 49  # "1"
        p = h + 1
        for i in range(nv):
            out[r, p] = _BECH32[values[i]]
            p += 1
        for i in range(6):
            out[r, p] = _BECH32[(chk >> (5 * (5 - i))) & 31]
            p += 1
        lens[r] = p


@njit(cache=True, nogil=True)
def _compact_rows(chars, lens, offsets, out):
    """Concatenate the first ``lens[r]`` bytes of each row of ``chars`` (Arrow's string layout).

    Parameters
    ----------
    chars : uint8[R, W]
    lens : int64[R]
    offsets : int32[R + 1]
        ``cumsum`` of ``lens`` with a leading 0.
    out : uint8[offsets[-1]]
        Out.
    """
    for r in range(chars.shape[0]):
        o = offsets[r]
        for k in range(lens[r]):
            out[o + k] = chars[r, k]


# --------------------------------------------------------------------------------------------
# Drivers
# --------------------------------------------------------------------------------------------


def _hash160(data: bytes) -> bytes:
    """RIPEMD-160 of SHA-256 (hashlib; bitcoinlib's fallback where OpenSSL lacks RIPEMD-160)."""
    digest = hashlib.sha256(data).digest()
    try:
        return hashlib.new("ripemd160", digest).digest()
    except ValueError:  # pragma: no cover - OpenSSL builds without the legacy provider
        from bitcoinlib.encoding import ripemd160

        return ripemd160(digest)


def _binary_buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The data bytes and int64 offsets[R + 1] of an Arrow binary array (no copy of the data)."""
    n = len(arr)
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int32)[arr.offset : arr.offset + n + 1]
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    return data, offsets.astype(np.int64)


def _encode_unique(scripts: pa.BinaryArray, params: NetworkParams) -> tuple[np.ndarray, pa.Array]:
    """Kinds (uint8[R]) and addresses (string, null without one) of distinct scripts."""
    n = len(scripts)
    data, offsets = _binary_buffers(scripts)
    kinds = np.empty(n, dtype=np.uint8)
    prog_off = np.empty(n, dtype=np.int64)
    prog_len = np.empty(n, dtype=np.int64)
    witver = np.empty(n, dtype=np.int64)
    classify_kernel(data, offsets, kinds, prog_off, prog_len, witver)

    chars = np.empty((n, ADDRESS_WIDTH), dtype=np.uint8)  # row r is read up to lens[r] only
    lens = np.zeros(n, dtype=np.int64)

    b58 = np.flatnonzero((kinds == P2PKH) | (kinds == P2SH) | (kinds == P2PK))
    if b58.size:
        payload = np.empty((b58.size, 25), dtype=np.uint8)
        payload[:, 0] = np.where(kinds[b58] == P2SH, params.p2sh_version, params.p2pkh_version)
        hashed = kinds[b58] != P2PK
        idx = prog_off[b58[hashed]][:, None] + np.arange(20, dtype=np.int64)
        payload[hashed, 1:21] = data[idx]
        for k in np.flatnonzero(~hashed).tolist():
            pk = data[prog_off[b58[k]] : prog_off[b58[k]] + prog_len[b58[k]]].tobytes()
            payload[k, 1:21] = np.frombuffer(_hash160(pk), dtype=np.uint8)
        checks = np.empty((b58.size, 32), dtype=np.uint8)
        sha256d_rows(np.ascontiguousarray(payload[:, :21]), checks)
        payload[:, 21:] = checks[:, :4]
        base58_kernel(payload, b58.astype(np.int64), chars, lens)

    seg = np.flatnonzero(witver >= 0)
    if seg.size:
        hrp = np.frombuffer(params.bech32_hrp.encode(), dtype=np.uint8)
        bech32_kernel(data, prog_off[seg], prog_len[seg], witver[seg], seg, hrp, chars, lens)

    addr_offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(lens, out=addr_offsets[1:])
    flat = np.empty(int(addr_offsets[-1]), dtype=np.uint8)
    _compact_rows(chars, lens, addr_offsets, flat)
    valid = np.packbits(lens > 0, bitorder="little")
    addresses = pa.StringArray.from_buffers(
        n, pa.py_buffer(addr_offsets), pa.py_buffer(flat), pa.py_buffer(valid)
    )
    return kinds, addresses


def classify_scripts(
    scripts: pa.Array | pa.ChunkedArray, network: str = "bitcoin"
) -> tuple[pa.Array, pa.Array]:
    """Script types and addresses of output scripts, computed once per distinct script.

    Parameters
    ----------
    scripts : Arrow binary array (or chunked array)
        scriptPubKeys, one per output. Nulls are not allowed.
    network : str
        Whose encodings to use (:data:`NETWORKS`).

    Returns
    -------
    script_type : Arrow string array
        One of :data:`SCRIPT_TYPES` per script.
    address : Arrow string array
        The address, null for ``nulldata``, ``multisig`` and ``nonstandard``.
    """
    params = network_params(network)
    if isinstance(scripts, pa.ChunkedArray):
        scripts = scripts.combine_chunks()
    if scripts.type != pa.binary():
        scripts = scripts.cast(pa.binary())
    if scripts.null_count:
        raise InputError("output scripts must not be null")
    if len(scripts) == 0:
        return pa.array([], pa.string()), pa.array([], pa.string())
    encoded = scripts.dictionary_encode()
    kinds, addresses = _encode_unique(encoded.dictionary, params)
    names = pa.array(SCRIPT_TYPES, type=pa.string()).take(pa.array(kinds))
    return names.take(encoded.indices), addresses.take(encoded.indices)


def script_address(script: bytes, network: str = "bitcoin") -> tuple[str, str | None]:
    """``(script_type, address)`` of one scriptPubKey; see :func:`classify_scripts`."""
    types, addresses = classify_scripts(pa.array([script], type=pa.binary()), network)
    return types[0].as_py(), addresses[0].as_py()


__all__ = [
    "NETWORKS",
    "SCRIPT_TYPES",
    "NetworkParams",
    "classify_scripts",
    "network_params",
    "script_address",
    "sha256d_rows",
]
