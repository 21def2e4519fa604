#!/usr/bin/env python3
"""Generates the core's numbering plan from libphonenumber's metadata.

Run through scripts/gen-numbering-plan.sh, which installs the pinned `phonenumbers`
(the Python port of libphonenumber, same metadata) into a venv under target/ and
calls this script. Writes, beside each other:

  src/numbering/data.rs     the plan as Rust: calling codes with their regions in
                            libphonenumber's order, the outputs table, and the digit
                            automaton as byte streams (decoded once by src/numbering/mod.rs)
  src/numbering/vectors.tsv test vectors: libphonenumber's own example numbers (valid,
                            per type, and invalid) with what libphonenumber says of them

What the automaton computes. For every calling code, one deterministic automaton over
the digits 0-9 of the national significant number. After the last digit, the state's
output is (region index, type): exactly what libphonenumber's getRegionCodeForNumber
and getNumberType give for that number, including the possible-lengths checks and the
general description. For a calling code shared by several regions it follows
getRegionCodeForNumberFromRegionList: regions in libphonenumber's order; a region with
`leading_digits` is chosen when those digits start the number (valid there or not),
a region without is chosen when the number is valid there. A number no region claims
gets region index 0 (the code's main region) and type UNKNOWN, i.e. invalid.

How it is built. Each pattern (only `\\d`, digits, `[...]`, `(?:...)`, `|`, `?` and
`{n}`/`{n,m}` occur; the generator refuses anything else) becomes a Thompson NFA, then
a DFA intersected with the description's possible lengths; the DFAs of all regions
and types of a calling code are run in product, and the product is minimised by
hash-consing (the languages are finite, so the automata are acyclic and two states are
equivalent exactly when their outputs and successors are). States past the longest
national number E.164 allows (15 digits in all) are cut. A state from which every
continuation gives the same output per remaining length (a tail of free digits) is a
"leaf": a short list of outputs by how many digits follow.

Serialisation (read by src/numbering/mod.rs, `decode`): nodes in preorder, each split
over byte streams so that gzip sees like with like:
  HDR   per node: bits 0-3 = k, the number of distinct live successors; bit 7 = the
        node has an output other than 0 (main region, unknown)
  OUT   per node with bit 7: its output id
  MASK  per node with k == 1: u16 LE, the digits leading to the successor
  LIVE, TWO, TWO_HI  per node with k == 2 (more than half the nodes): LIVE u16 LE, the
        live digits; TWO a byte, bit d set when digit d (0-7) leads to slot 2; TWO_HI a
        byte, the same for digits 8 and 9 (bits 0-1); the other live digits lead to
        slot 1
  MAP3  per node with k == 3, and MAP per node with 4 <= k <= 9: 5 bytes, one nibble
        per digit (digit 2i low): 0 = dead, 1..k = successor slot
        (k == 10 needs nothing: digit d leads to slot d + 1)
  Slots are numbered by the first digit leading to them. Split by k (and k == 2 as bit
  masks), the maps gzip to 1.3 KiB less than one nibble MAP for every k >= 2 did.
  KIND  per slot: 0 = leaf (id in LEAF), 1 = node already emitted (index in BACK),
        2 = new node, emitted right here (recursively, in preorder)
  LEAF, BACK, ROOT: LEB128 numbers; ROOT per calling code: node index * 2, or
        leaf id * 2 + 1
  LEAVES per leaf: length n then n output ids; output after r more digits is
        entry min(r, n - 1)
"""

from __future__ import annotations

import collections
import random
import sys
from pathlib import Path

import phonenumbers as pn
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from phonenumbers.phonemetadata import PhoneMetadata

PIN = "9.0.43"
ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "src" / "numbering"
MAX_DIGITS = 15  # E.164: calling code + national number
# The byte streams of data.rs, in the order they are written.
STREAMS = ["hdr", "out", "mask", "live", "two", "two_hi", "map3", "map", "kind", "leaf", "back",
           "root", "leaves"]

sys.setrecursionlimit(10_000)

# Types in libphonenumber's order of precedence (_number_type_helper), then the two it
# resolves together. Names are the core's NumberType names (camelCase, as in JSON).
SPECIAL_TYPES = [
    ("premium_rate", "premiumRate", PhoneNumberType.PREMIUM_RATE),
    ("toll_free", "tollFree", PhoneNumberType.TOLL_FREE),
    ("shared_cost", "sharedCost", PhoneNumberType.SHARED_COST),
    ("voip", "voip", PhoneNumberType.VOIP),
    ("personal_number", "personalNumber", PhoneNumberType.PERSONAL_NUMBER),
    ("pager", "pager", PhoneNumberType.PAGER),
    ("uan", "uan", PhoneNumberType.UAN),
    ("voicemail", "voicemail", PhoneNumberType.VOICEMAIL),
]
TYPE_NAMES = {
    PhoneNumberType.FIXED_LINE: "fixedLine",
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixedLineOrMobile",
    PhoneNumberType.UNKNOWN: "unknown",
    **{t: name for _, name, t in SPECIAL_TYPES},
}
UNKNOWN = "unknown"


# --- Patterns: regex subset -> AST -> NFA ------------------------------------------

def parse_pattern(p: str):
    """AST of a libphonenumber pattern: ('cls', digits) | ('seq', items) |
    ('alt', branches) | ('rep', node, lo, hi)."""
    pos = 0

    def fail(why):
        raise ValueError(f"unsupported pattern at {pos}: {why}: {p}")

    def alt():
        nonlocal pos
        branches = [seq()]
        while pos < len(p) and p[pos] == "|":
            pos += 1
            branches.append(seq())
        return branches[0] if len(branches) == 1 else ("alt", branches)

    def seq():
        items = []
        while pos < len(p) and p[pos] not in "|)":
            items.append(quantified(atom()))
        return ("seq", items)

    def atom():
        nonlocal pos
        if p.startswith("(?:", pos):
            pos += 3
            inner = alt()
            if pos >= len(p) or p[pos] != ")":
                fail("unclosed group")
            pos += 1
            return inner
        if p.startswith("\\d", pos):
            pos += 2
            return ("cls", frozenset(range(10)))
        if p[pos] == "[":
            pos += 1
            digits = set()
            if p[pos] == "^":
                fail("negated class")
            while p[pos] != "]":
                if p.startswith("\\d", pos):
                    digits |= set(range(10))
                    pos += 2
                elif p[pos].isdigit():
                    lo = int(p[pos])
                    if p[pos + 1] == "-" and p[pos + 2].isdigit():
                        digits |= set(range(lo, int(p[pos + 2]) + 1))
                        pos += 3
                    else:
                        digits.add(lo)
                        pos += 1
                else:
                    fail("class member")
            pos += 1
            return ("cls", frozenset(digits))
        if p[pos].isdigit():
            pos += 1
            return ("cls", frozenset([int(p[pos - 1])]))
        fail("atom")

    def quantified(a):
        nonlocal pos
        if pos < len(p) and p[pos] == "?":
            pos += 1
            return ("rep", a, 0, 1)
        if pos < len(p) and p[pos] == "{":
            end = p.index("}", pos)
            body = p[pos + 1 : end]
            pos = end + 1
            lo, _, hi = body.partition(",")
            if not lo.isdigit() or (hi and not hi.isdigit()) or (_ and not hi):
                fail("quantifier")
            return ("rep", a, int(lo), int(hi) if hi else int(lo))
        if pos < len(p) and p[pos] in "*+":
            fail("unbounded quantifier")
        return a

    tree = alt()
    if pos != len(p):
        fail("trailing input")
    return tree


class Nfa:
    """Thompson NFA with epsilon moves; state 0 starts, state 1 accepts."""

    def __init__(self, pattern: str):
        self.eps: list[set[int]] = []
        self.moves: list[list[tuple[frozenset, int]]] = []
        start, self.accept = self.state(), self.state()
        self.build(parse_pattern(pattern), start, self.accept)
        self.start = self.closure({start})

    def state(self) -> int:
        self.eps.append(set())
        self.moves.append([])
        return len(self.eps) - 1

    def build(self, node, s: int, e: int):
        kind = node[0]
        if kind == "cls":
            self.moves[s].append((node[1], e))
        elif kind == "seq":
            cur = s
            for item in node[1]:
                nxt = self.state()
                self.build(item, cur, nxt)
                cur = nxt
            self.eps[cur].add(e)
        elif kind == "alt":
            for branch in node[1]:
                self.build(branch, s, e)
        else:  # rep
            _, inner, lo, hi = node
            cur = s
            for i in range(hi):
                nxt = self.state()
                self.build(inner, cur, nxt)
                if i >= lo:
                    self.eps[cur].add(e)
                cur = nxt
            self.eps[cur].add(e)

    def closure(self, states) -> frozenset:
        out, todo = set(states), list(states)
        while todo:
            for t in self.eps[todo.pop()]:
                if t not in out:
                    out.add(t)
                    todo.append(t)
        return frozenset(out)

    def step(self, states: frozenset, digit: int) -> frozenset:
        return self.closure({t for s in states for (cls, t) in self.moves[s] if digit in cls})


# --- Per-description DFAs (hash-consed, shared by all) ------------------------------

DEAD = -1  # no number continues this way
MATCHED = -2  # prefix automata: the leading digits matched (absorbing)
desc_nodes: list[tuple[bool, tuple[int, ...]]] = []
desc_index: dict = {}


def desc_intern(node) -> int:
    i = desc_index.get(node)
    if i is None:
        i = desc_index[node] = len(desc_nodes)
        desc_nodes.append(node)
    return i


def desc_dfa(pattern: str | None, lengths: set[int], max_len: int, prefix=False) -> int:
    """Root of the minimal DFA of `pattern` (full match) restricted to `lengths`
    (empty: any), cut at `max_len` digits. With `prefix`, the automaton accepts as
    soon as a prefix matches (re.match), reaching MATCHED."""
    if not pattern:
        return DEAD
    nfa = Nfa(pattern)
    memo: dict = {}

    def go(depth: int, states: frozenset) -> int:
        if not states or depth > max_len:
            return DEAD
        key = (depth, states)
        if key in memo:
            return memo[key]
        accepts = nfa.accept in states and (not lengths or depth in lengths)
        if prefix and accepts:
            result = MATCHED
        else:
            nxt = tuple(go(depth + 1, nfa.step(states, d)) for d in range(10))
            if not accepts and all(n == DEAD for n in nxt):
                result = DEAD
            else:
                result = desc_intern((accepts, nxt))
        memo[key] = result
        return result

    return go(0, nfa.start)


def accepts(node: int) -> bool:
    return node >= 0 and desc_nodes[node][0]


def desc_step(node: int, digit: int) -> int:
    return node if node < 0 else desc_nodes[node][1][digit]


# --- Regions of a calling code, run in product --------------------------------------

def metadata(region: str, code: int):
    if region == "001":
        return PhoneMetadata.metadata_for_nongeo_region(code)
    return PhoneMetadata.metadata_for_region(region)


class Region:
    """One region's descriptions as DFA roots, for the product."""

    def __init__(self, iso: str, code: int, max_len: int):
        m = metadata(iso, code)
        self.iso = iso
        self.same_mobile_and_fixed = bool(m.same_mobile_and_fixed_line_pattern)

        def root(desc):
            if desc is None or desc.possible_length == (-1,):
                return DEAD
            lengths = {n for n in desc.possible_length if n > 0}
            return desc_dfa(desc.national_number_pattern, lengths, max_len)

        # general, the special types in precedence order, fixed line, mobile
        self.descs = tuple(
            [root(m.general_desc)]
            + [root(getattr(m, attr)) for attr, _, _ in SPECIAL_TYPES]
            + [root(m.fixed_line), root(m.mobile)]
        )
        self.leading = (
            desc_dfa(m.leading_digits, set(), max_len, prefix=True) if m.leading_digits else None
        )


def region_type(region: Region, descs: tuple[int, ...]) -> str:
    """libphonenumber's _number_type_helper on the states reached."""
    if not accepts(descs[0]):
        return UNKNOWN
    for (_, name, _), node in zip(SPECIAL_TYPES, descs[1:9]):
        if accepts(node):
            return name
    fixed, mobile = descs[9], descs[10]
    if accepts(fixed):
        if region.same_mobile_and_fixed or accepts(mobile):
            return "fixedLineOrMobile"
        return "fixedLine"
    if not region.same_mobile_and_fixed and accepts(mobile):
        return "mobile"
    return UNKNOWN


def product_output(regions: list[Region], state) -> tuple[int, str]:
    """libphonenumber's getRegionCodeForNumberFromRegionList, then getNumberType."""
    for i, (region, (descs, leading)) in enumerate(zip(regions, state)):
        if region.leading is not None:
            if leading == MATCHED:
                return (i, region_type(region, descs))
        else:
            kind = region_type(region, descs)
            if kind != UNKNOWN:
                return (i, kind)
    return (0, UNKNOWN)


# Combined nodes, hash-consed across all calling codes: (output, successors) where
# successors is a 10-tuple of node ids, or a ("sink", output) node that loops on itself.
nodes: list = []
node_index: dict = {}


def intern(node) -> int:
    i = node_index.get(node)
    if i is None:
        i = node_index[node] = len(nodes)
        nodes.append(node)
    return i


def sink(output) -> int:
    return intern(("sink", output))


def build_code(code: int, regions: list[Region], max_len: int) -> int:
    memo: dict = {}

    def dead_part(state):
        return all(
            all(n == DEAD for n in descs) and leading in (None, DEAD, MATCHED)
            for descs, leading in state
        )

    def go(depth: int, state) -> int:
        key = (depth, state)
        if key in memo:
            return memo[key]
        out = product_output(regions, state)
        if dead_part(state):
            result = sink(out)
        elif depth == max_len:
            # No longer number exists: whatever follows is the code's dead sink.
            result = intern((out, (sink((0, UNKNOWN)),) * 10))
        else:
            nxt = tuple(
                go(
                    depth + 1,
                    tuple(
                        (
                            tuple(desc_step(n, d) for n in descs),
                            leading if leading in (None, MATCHED) else desc_step(leading, d),
                        )
                        for descs, leading in state
                    ),
                )
                for d in range(10)
            )
            result = intern((out, nxt))
        memo[key] = result
        return result

    return go(0, tuple((r.descs, r.leading) for r in regions))


def successors(i: int) -> tuple[int, ...]:
    node = nodes[i]
    return (i,) * 10 if node[0] == "sink" else node[1]


def output_of(i: int):
    node = nodes[i]
    return node[1] if node[0] == "sink" else node[0]


# --- Leaves, outputs, serialisation --------------------------------------------------

def leaf_of(i: int, memo: dict):
    """The outputs by remaining digits of a free tail starting at node i, or None."""
    if i in memo:
        return memo[i]
    nxt = successors(i)
    if nodes[i][0] == "sink":
        result = (output_of(i),)
    elif len(set(nxt)) == 1 and (rest := leaf_of(nxt[0], memo)) is not None:
        result = (output_of(i),) + rest
        # The last entry repeats forever: drop a duplicate of it.
        if len(result) >= 2 and result[-1] == result[-2]:
            result = result[:-1]
    else:
        result = None
    memo[i] = result
    return result


def leb128(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


class Encoder:
    def __init__(self, roots: list[int]):
        self.free: dict = {}
        for i in range(len(nodes)):
            leaf_of(i, self.free)
        dead = sink((0, UNKNOWN))
        self.dead = dead
        # Outputs: (0, unknown) first, so that 0 means "nothing to say".
        counts = collections.Counter()
        leaf_refs = collections.Counter()
        seen, todo = set(), list(roots)
        while todo:
            i = todo.pop()
            if i in seen:
                continue
            seen.add(i)
            if self.free[i] is not None:
                leaf_refs[self.free[i]] += 1
                counts.update(self.free[i])
                continue
            counts[output_of(i)] += 1
            todo.extend(t for t in set(successors(i)) if t != dead)
        for i in set(seen):
            if self.free[i] is None:
                for t in set(successors(i)):
                    if t != dead and self.free[t] is not None:
                        leaf_refs[self.free[t]] += 1
        self.outputs = [(0, UNKNOWN)] + [o for o, _ in counts.most_common() if o != (0, UNKNOWN)]
        self.output_id = {o: i for i, o in enumerate(self.outputs)}
        if len(self.outputs) > 256:
            raise SystemExit(f"{len(self.outputs)} outputs do not fit a byte")
        # Leaves by how often they are referenced, the dead tail first (id 0).
        self.leaves = [((0, UNKNOWN),)]
        self.leaves += [leaf for leaf, _ in leaf_refs.most_common() if leaf != self.leaves[0]]
        self.leaf_id = {leaf: i for i, leaf in enumerate(self.leaves)}
        self.streams = collections.defaultdict(bytearray)
        self.preorder: dict[int, int] = {}
        s = self.streams
        for r in roots:
            if self.free[r] is not None:
                s["root"] += leb128(self.leaf_id[self.free[r]] * 2 + 1)
            else:
                if r not in self.preorder:
                    self.emit(r)
                s["root"] += leb128(self.preorder[r] * 2)
        for leaf in self.leaves:
            s["leaves"].append(len(leaf))
            s["leaves"] += bytes(self.output_id[o] for o in leaf)
        self.root_count = len(roots)
        self.node_count = len(self.preorder)

    def emit(self, i: int):
        s = self.streams
        self.preorder[i] = len(self.preorder)
        nxt = successors(i)
        slots: list[int] = []
        digit_slots = []
        for t in nxt:
            if t == self.dead:
                digit_slots.append(0)
            else:
                if t not in slots:
                    slots.append(t)
                digit_slots.append(slots.index(t) + 1)
        out = self.output_id[output_of(i)]
        s["hdr"].append(len(slots) | (0x80 if out else 0))
        if out:
            s["out"].append(out)
        if len(slots) == 1:
            mask = sum(1 << d for d in range(10) if digit_slots[d])
            s["mask"] += mask.to_bytes(2, "little")
        elif len(slots) == 2:
            live = sum(1 << d for d in range(10) if digit_slots[d])
            two = sum(1 << d for d in range(10) if digit_slots[d] == 2)
            s["live"] += live.to_bytes(2, "little")
            s["two"].append(two & 0xFF)
            s["two_hi"].append(two >> 8)
        elif len(slots) < 10:
            nibbles = bytes(digit_slots[d] | digit_slots[d + 1] << 4 for d in range(0, 10, 2))
            s["map3" if len(slots) == 3 else "map"] += nibbles
        elif digit_slots != list(range(1, 11)):
            raise SystemExit("a node with 10 successors whose slots are not the digits' order")
        for t in slots:
            if self.free[t] is not None:
                s["kind"].append(0)
                s["leaf"] += leb128(self.leaf_id[self.free[t]])
            elif t in self.preorder:
                s["kind"].append(1)
                s["back"] += leb128(self.preorder[t])
            else:
                s["kind"].append(2)
                self.emit(t)


# --- A decoder in Python: the generator checks its own output ------------------------

class Decoded:
    """Mirror of src/numbering/mod.rs's decoder and walk."""

    def __init__(self, enc: Encoder):
        s = {k: bytes(v) for k, v in enc.streams.items()}
        cur = collections.Counter()

        def byte(name):
            b = s[name][cur[name]]
            cur[name] += 1
            return b

        def leb(name):
            n = shift = 0
            while True:
                b = byte(name)
                n |= (b & 0x7F) << shift
                shift += 7
                if b < 0x80:
                    return n

        self.leaves = []
        for _ in range(len(enc.leaves)):
            n = byte("leaves")
            self.leaves.append([byte("leaves") for _ in range(n)])
        self.out, self.next = [], []

        def node() -> int:
            idx = len(self.out)
            self.out.append(0)
            self.next.append(None)
            hdr = byte("hdr")
            k = hdr & 0x0F
            self.out[idx] = byte("out") if hdr & 0x80 else 0
            if k == 1:
                mask = byte("mask") | byte("mask") << 8
                slot_of = [1 if mask >> d & 1 else 0 for d in range(10)]
            elif k == 2:
                live = byte("live") | byte("live") << 8
                two = byte("two") | byte("two_hi") << 8
                slot_of = [2 if two >> d & 1 else 1 if live >> d & 1 else 0 for d in range(10)]
            elif k == 10:
                slot_of = list(range(1, 11))
            elif k > 2:
                slot_of = []
                for _ in range(5):
                    b = byte("map3" if k == 3 else "map")
                    slot_of += [b & 0x0F, b >> 4]
            else:
                slot_of = [0] * 10
            targets = [("leaf", 0)]
            for _ in range(k):
                kind = byte("kind")
                if kind == 0:
                    targets.append(("leaf", leb("leaf")))
                elif kind == 1:
                    targets.append(("node", leb("back")))
                else:
                    targets.append(("node", node()))
            self.next[idx] = [targets[slot_of[d]] for d in range(10)]
            return idx

        # Nodes come in root order: a root that is the next node starts a new tree.
        self.roots = []
        for _ in range(enc.root_count):
            v = leb("root")
            if v & 1:
                self.roots.append(("leaf", v >> 1))
            elif v >> 1 == len(self.out):
                self.roots.append(("node", node()))
            else:
                self.roots.append(("node", v >> 1))
        for name, data in s.items():
            if cur[name] != len(data):
                raise SystemExit(f"stream {name}: read {cur[name]} of {len(data)} bytes")
        self.outputs = enc.outputs

    def classify(self, code_index: int, national: str) -> tuple[int, str]:
        kind, i = self.roots[code_index]
        pos = 0
        while kind == "node" and pos < len(national):
            kind, i = self.next[i][int(national[pos])]
            pos += 1
        if kind == "node":
            out = self.out[i]
        else:
            leaf = self.leaves[i]
            out = leaf[min(len(national) - pos, len(leaf) - 1)]
        return self.outputs[out]


# --- Test vectors ---------------------------------------------------------------------

def e164(num) -> str:
    return pn.format_number(num, PhoneNumberFormat.E164)


def type_name(num) -> str:
    return TYPE_NAMES[pn.number_type(num)]


def region_name(num) -> str:
    return pn.region_code_for_number(num) or "-"


def vectors() -> list[tuple[str, ...]]:
    """(kind, input, countryIso or -, E.164, region or -, type) rows."""
    rows = []
    all_types = [t for t in TYPE_NAMES if t != PhoneNumberType.UNKNOWN]
    for region in sorted(pn.SUPPORTED_REGIONS):
        code = pn.country_code_for_region(region)
        # For a shared calling code, each example is also parsed with the code's main
        # region and with the region after this one in libphonenumber's list.
        family = pn.COUNTRY_CODE_TO_REGION_CODE[code]
        shared = []
        if len(family) > 1:
            for other in (family[0], family[(family.index(region) + 1) % len(family)]):
                if other != region and other not in shared:
                    shared.append(other)
        seen = set()
        for t in sorted(all_types):
            ex = pn.example_number_for_type(region, t)
            if ex is None or e164(ex) in seen:
                continue
            seen.add(e164(ex))
            rows.append(("valid", e164(ex), "-", e164(ex), region_name(ex), type_name(ex)))
            national = pn.format_number(ex, PhoneNumberFormat.NATIONAL)
            parsed = pn.parse(national, region)
            rows.append(("national", national, region, e164(parsed), region_name(parsed), type_name(parsed)))
            # A shared calling code: the caller's country never overrides the digits.
            for other in shared:
                parsed = pn.parse(national, other)
                rows.append(("shared", national, other, e164(parsed), region_name(parsed), type_name(parsed)))
                rows.append(("shared", e164(ex), other, e164(ex), region_name(ex), type_name(ex)))
        bad = pn.invalid_example_number(region)
        if bad is not None:
            rows.append(("invalid", e164(bad), "-", e164(bad), region_name(bad), type_name(bad)))
            national = pn.format_number(bad, PhoneNumberFormat.NATIONAL)
            rows.append(("invalid", national, region, e164(bad), region_name(bad), type_name(bad)))
    for code in sorted(pn.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        m = PhoneMetadata.metadata_for_nongeo_region(code)
        seen = set()
        for attr in ["fixed_line", "mobile", *(a for a, _, _ in SPECIAL_TYPES)]:
            desc = getattr(m, attr)
            if desc is None or not desc.example_number:
                continue
            ex = pn.parse(f"+{code}{desc.example_number}")
            if e164(ex) in seen:
                continue
            seen.add(e164(ex))
            rows.append(("valid", e164(ex), "-", e164(ex), region_name(ex), type_name(ex)))
    return rows


# --- Self-check -------------------------------------------------------------------------

def self_check(dec: Decoded, codes: list[tuple[int, list[str]]]):
    """The decoded automaton against libphonenumber: every example number, and
    variations of them (each digit changed, digits added and removed)."""
    index = {code: i for i, (code, _) in enumerate(codes)}
    regions_of = dict(codes)
    rng = random.Random(13)
    checked = mismatches = 0

    def check(code: int, national: str):
        nonlocal checked, mismatches
        if not national or len(str(code)) + len(national) > MAX_DIGITS:
            return
        num = pn.PhoneNumber(country_code=code, national_number=int(national))
        if national.startswith("0"):
            zeros = len(national) - len(national.lstrip("0"))
            if zeros == len(national):
                return
            num.italian_leading_zero = True
            num.number_of_leading_zeros = zeros
        want_region = pn.region_code_for_number(num)
        want_type = type_name(num)
        region_idx, got_type = dec.classify(index[code], national)
        got_region = regions_of[code][region_idx]
        checked += 1
        ok = got_type == want_type and (
            got_region == want_region or (want_region is None and region_idx == 0)
        )
        if not ok:
            mismatches += 1
            if mismatches <= 20:
                print(f"mismatch +{code} {national}: want {want_region} {want_type}, "
                      f"got {got_region} {got_type}", file=sys.stderr)

    samples = []
    for region in sorted(pn.SUPPORTED_REGIONS):
        for t in TYPE_NAMES:
            ex = pn.example_number_for_type(region, t)
            if ex is not None:
                samples.append(ex)
        bad = pn.invalid_example_number(region)
        if bad is not None:
            samples.append(bad)
    for code in sorted(pn.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        ex = pn.example_number_for_non_geo_entity(code)
        if ex is not None:
            samples.append(ex)
    for ex in samples:
        code, national = ex.country_code, pn.national_significant_number(ex)
        check(code, national)
        for i in range(len(national)):
            for d in "0123456789":
                check(code, national[:i] + d + national[i + 1 :])
            check(code, national[:i] + national[i + 1 :])
        for d in "0123456789":
            check(code, national + d)
        for _ in range(20):
            n = rng.randint(max(1, len(national) - 3), len(national) + 2)
            keep = rng.randint(0, min(n, len(national)))
            check(code, national[:keep] + "".join(rng.choice("0123456789") for _ in range(n - keep)))
    print(f"self-check: {checked} numbers, {mismatches} mismatches", file=sys.stderr)
    if mismatches:
        raise SystemExit("the automaton disagrees with libphonenumber")


# --- Rust output --------------------------------------------------------------------------

def rust_bytes(name: str, data: bytes, doc: str) -> str:
    lines = [f"/// {doc}", f"pub(super) static {name}: &[u8] = b\"\\"]
    for i in range(0, len(data), 32):
        lines.append("".join(f"\\x{b:02x}" for b in data[i : i + 32]) + "\\")
    lines.append("\";")
    return "\n".join(lines)


def main():
    if pn.__version__ != PIN:
        raise SystemExit(f"phonenumbers {pn.__version__} installed, {PIN} pinned")
    codes = []
    roots = []
    for code, regions in sorted(pn.COUNTRY_CODE_TO_REGION_CODE.items()):
        max_len = MAX_DIGITS - len(str(code))
        built = [Region(r, code, max_len) for r in regions]
        roots.append(build_code(code, built, max_len))
        codes.append((code, list(regions)))
    enc = Encoder(roots)
    dec = Decoded(enc)
    self_check(dec, codes)

    s = {k: bytes(v) for k, v in enc.streams.items()}
    for name in STREAMS:
        s.setdefault(name, b"")
    total = sum(len(v) for v in s.values())
    import gzip

    gz = len(gzip.compress(b"".join(s.values()), 9))
    print(f"plan: {len(codes)} calling codes, {enc.node_count} nodes, {len(enc.leaves)} leaves, "
          f"{len(enc.outputs)} outputs; {total} bytes, {gz} gzipped", file=sys.stderr)

    out = []
    out.append(f"""// @generated by scripts/gen-numbering-plan.py from libphonenumber's metadata as
// shipped in the `phonenumbers` PyPI package {PIN}. Do not edit: run
// `bash scripts/gen-numbering-plan.sh`. The format is described in the generator.

//! The numbering plan's tables (generated).

use super::NumberType;

/// The `phonenumbers` (libphonenumber metadata) release these tables come from.
pub(super) const METADATA_VERSION: &str = "{PIN}";

/// Nodes of the automaton, for the decoder's allocations.
pub(super) const NODE_COUNT: usize = {enc.node_count};

/// Leaves of the automaton.
pub(super) const LEAF_COUNT: usize = {len(enc.leaves)};
""")
    def wrapped(items: list[str], indent: str = "    ") -> list[str]:
        lines, line = [], indent
        for item in items:
            if len(line) + len(item) + 1 > 100:
                lines.append(line.rstrip())
                line = indent
            line += item + " "
        return lines + [line.rstrip()]

    out.append("/// Every calling code libphonenumber knows, sorted. The automaton's roots")
    out.append("/// (stream ROOT) come in this order.")
    out.append("#[rustfmt::skip]")
    out.append("pub(super) static CALLING_CODES: &[u16] = &[")
    out.extend(wrapped([f"{code}," for code, _ in codes]))
    out.append("];\n")
    starts, n = [], 0
    for _, regions in codes:
        starts.append(n)
        n += len(regions)
    starts.append(n)
    out.append("/// Where each calling code's regions start in [`REGIONS`] (in regions; one more")
    out.append("/// entry than [`CALLING_CODES`], for the end).")
    out.append("#[rustfmt::skip]")
    out.append("pub(super) static REGION_STARTS: &[u16] = &[")
    out.extend(wrapped([f"{x}," for x in starts]))
    out.append("];\n")
    letters = "".join("00" if r == "001" else r for _, regions in codes for r in regions)
    out.append("/// The regions of each calling code in turn, two letters each, in libphonenumber's")
    out.append("/// order (the main region first); `00` stands for the non-geographic region `001`.")
    out.append("#[rustfmt::skip]")
    out.append("pub(super) static REGIONS: &str = \"\\")
    for i in range(0, len(letters), 96):
        out.append(letters[i : i + 96] + "\\")
    out.append("\";\n")
    out.append("/// Output ids: (index of the region in its calling code's list, type).")
    out.append("#[rustfmt::skip]")
    out.append("pub(super) static OUTPUTS: &[(u8, NumberType)] = &[")
    line = "   "
    for region_idx, kind in enc.outputs:
        variant = kind[0].upper() + kind[1:]
        item = f" ({region_idx}, NumberType::{variant}),"
        if len(line) + len(item) > 100:
            out.append(line)
            line = "   "
        line += item
    out.append(line)
    out.append("];\n")
    docs = {
        "hdr": "Per node: live successor count (bits 0-3), has an output (bit 7).",
        "out": "Per node with an output: its output id.",
        "mask": "Per node with one live successor: the digits to it (u16 LE).",
        "live": "Per node with two live successors: the live digits (u16 LE).",
        "two": "Per node with two: the digits 0-7 to the second successor (bit d).",
        "two_hi": "Per node with two: the digits 8-9 to the second successor (bits 0-1).",
        "map3": "Per node with three: one nibble per digit, the successor's slot (0: dead).",
        "map": "Per node with 4-9: one nibble per digit, the successor's slot (0: dead).",
        "kind": "Per slot: 0 leaf, 1 earlier node, 2 new node (emitted next).",
        "leaf": "Leaf ids of the slots of kind 0 (LEB128).",
        "back": "Node indices of the slots of kind 1 (LEB128).",
        "root": "Per calling code: node index * 2, or leaf id * 2 + 1 (LEB128).",
        "leaves": "Per leaf: n, then n output ids by digits remaining (the last repeats).",
    }
    for name in STREAMS:
        out.append(rust_bytes(name.upper(), s[name], docs[name]))
        out.append("")
    (OUT_DIR / "data.rs").write_text("\n".join(out))

    rows = vectors()
    header = [
        f"# Generated by scripts/gen-numbering-plan.py from phonenumbers {PIN}: libphonenumber's",
        "# example numbers and what libphonenumber says of them. Columns: kind, input,",
        "# countryIso (- none), E.164, region (- none: invalid), type.",
    ]
    (OUT_DIR / "vectors.tsv").write_text(
        "\n".join(header + ["\t".join(r) for r in rows]) + "\n", encoding="utf-8"
    )
    print(f"vectors: {len(rows)} rows", file=sys.stderr)


if __name__ == "__main__":
    main()
