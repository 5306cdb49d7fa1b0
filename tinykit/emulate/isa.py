"""Instruction classes of a Cortex-M firmware, read from its disassembly.

`classify_listing(text)` turns `arm-none-eabi-objdump -d` output into `Insn` records: the
class that decides an instruction's cost in a timing model (`CLASSES`), the registers it
reads, writes and uses to form an address (bit masks, r0 = bit 0 ... pc = bit 15), how
many registers a load/store multiple moves, and whether it may write the PC. The QEMU
plugin (plugin/tkcount.c) counts executed instructions per class from these records.

Classifying the mnemonics objdump prints, rather than decoding Thumb bits in C, keeps
every decision readable and unit-tested here; objdump's mapping symbols keep literal
pools out of the listing. Instructions inside IT blocks carry their condition in the
mnemonic (`popeq`); MVE instructions inside VPT blocks carry a `t`/`e` (`vldrbt.s16`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

#: Every class, in the order of the plugin's counters. Descriptions: `CLASS_DESCRIPTIONS`.
CLASS_DESCRIPTIONS: dict[str, str] = {
    "alu": "data processing: move, add, logic, shift, compare, extend, bit field",
    "it": "IT (if-then) block start",
    "mul": "32-bit multiply (MUL)",
    "mla": "multiply-accumulate (MLA, MLS)",
    "mull": "long multiply (SMULL, UMULL)",
    "mlal": "long multiply-accumulate (SMLAL, UMLAL, UMAAL)",
    "dsp_mac": "DSP multiply(-accumulate): SMLAD, SMUAD, SMLABB, SMMUL, ...",
    "dsp": "DSP SIMD, saturating and packing: SXTB16, SADD16, QADD, SSAT, PKHBT, ...",
    "div": "divide (SDIV, UDIV)",
    "load": "load single (LDR, LDRB, LDRH, LDRSB, LDRSH)",
    "load_double": "load two registers (LDRD)",
    "load_multiple": "load multiple (LDM, POP without PC)",
    "store": "store single, immediate offset (STR, STRB, STRH)",
    "store_reg": "store single, register offset",
    "store_double": "store two registers (STRD)",
    "store_multiple": "store multiple (STM, PUSH)",
    "branch": "unconditional branch (B, BX, MOV/ADD to PC)",
    "branch_cond": "conditional branch (B<cond>, CBZ, CBNZ)",
    "call": "call (BL)",
    "call_reg": "call through a register (BLX)",
    "pop_pc": "return by load multiple (POP/LDM with PC)",
    "load_pc": "load to PC (LDR PC)",
    "table_branch": "table branch (TBB, TBH)",
    "loop_start": "low-overhead loop start (DLS, WLS, DLSTP, WLSTP)",
    "loop_end": "low-overhead loop end (LE, LETP)",
    "fp": "floating-point arithmetic (VADD, VMUL, VCVT, VCMP, ...)",
    "fp_mac": "floating-point multiply-accumulate (VMLA, VFMA, ...)",
    "fp_div": "floating-point divide and square root",
    "fp_move": "floating-point moves (VMOV, VMRS, VMSR)",
    "fp_load": "floating-point load (VLDR)",
    "fp_store": "floating-point store (VSTR)",
    "fp_load_multiple": "floating-point load multiple (VLDM, VPOP)",
    "fp_store_multiple": "floating-point store multiple (VSTM, VPUSH)",
    "mve_load": "Helium (MVE) vector load",
    "mve_store": "Helium (MVE) vector store",
    "mve_int": "Helium integer-pipe op (VADD.I, VSHR, VQMOVN, VMAX, VDUP, ...)",
    "mve_mul": "Helium multiply/float-pipe op (VMLADAV, VMUL, VQRDMULH, VCMP, VADDV, ...)",
    "mve_pred": "Helium predication (VPST, VCTP, VPNOT)",
    "system": "system, barrier, hint (MRS, MSR, DSB, CPSID, NOP-like hints, ...)",
    "other": "anything not recognized",
}
CLASSES: tuple[str, ...] = tuple(CLASS_DESCRIPTIONS)
CLASS_INDEX = {name: i for i, name in enumerate(CLASSES)}

#: Register bit masks: r0..r12 = bits 0..12, sp 13, lr 14, pc 15.
_REGISTER_NAMES = {f"r{i}": i for i in range(16)}
_REGISTER_NAMES.update(sb=9, sl=10, fp=11, ip=12, sp=13, lr=14, pc=15)
PC = 1 << 15
_REG_RE = re.compile(r"\b(r1[0-5]|r[0-9]|sb|sl|fp|ip|sp|lr|pc)\b")
_CONDITIONS = frozenset("eq ne cs hs cc lo mi pl vs vc hi ls ge lt gt le al".split())
_TARGET_RE = re.compile(r"\b([0-9a-f]+) <[^>]*>\s*$")

_SETS: dict[str, frozenset[str]] = {
    "alu": frozenset(
        "adc add addw adr and asr bfc bfi bic clz cmn cmp cpy eor lsl lsr mov movw movt mvn "
        "nop neg orn orr rbit rev rev16 revsh ror rrx rsb sbc sbfx sub subw sxtb sxth teq tst "
        "ubfx uxtb uxth csel csinc csinv csneg cset csetm cinc cinv cneg asrl lsll lsrl "
        "sqrshr sqrshrl sqshl sqshll srshr srshrl uqrshl uqrshll uqshl uqshll urshr urshrl"
        .split()),
    "mul": frozenset(["mul"]),
    "mla": frozenset(["mla", "mls"]),
    "mull": frozenset(["smull", "umull"]),
    "mlal": frozenset(["smlal", "umlal", "umaal"]),
    "dsp_mac": frozenset(
        "smlabb smlabt smlatb smlatt smlad smladx smlalbb smlalbt smlaltb smlaltt smlald "
        "smlaldx smlawb smlawt smlsd smlsdx smlsld smlsldx smmla smmlar smmls smmlsr smmul "
        "smmulr smuad smuadx smulbb smulbt smultb smultt smulwb smulwt smusd smusdx usad8 "
        "usada8".split()),
    "dsp": frozenset(
        "pkhbt pkhtb qadd qadd16 qadd8 qasx qdadd qdsub qsax qsub qsub16 qsub8 sadd16 sadd8 "
        "sasx sel shadd16 shadd8 shasx shsax shsub16 shsub8 ssat ssat16 ssax ssub16 ssub8 "
        "sxtab sxtab16 sxtah sxtb16 uadd16 uadd8 uasx uhadd16 uhadd8 uhasx uhsax uhsub16 "
        "uhsub8 uqadd16 uqadd8 uqasx uqsax uqsub16 uqsub8 usat usat16 usax usub16 usub8 uxtab "
        "uxtab16 uxtah uxtb16".split()),
    "div": frozenset(["sdiv", "udiv"]),
    "load": frozenset(
        "ldr ldrb ldrh ldrsb ldrsh ldrt ldrbt ldrht ldrsbt ldrsht ldrex ldrexb ldrexh lda "
        "ldab ldah ldaex ldaexb ldaexh".split()),
    "load_double": frozenset(["ldrd"]),
    "load_multiple": frozenset("ldm ldmia ldmfd ldmdb ldmea pop".split()),
    "store": frozenset(
        "str strb strh strt strbt strht strex strexb strexh stl stlb stlh stlex stlexb "
        "stlexh".split()),
    "store_double": frozenset(["strd"]),
    "store_multiple": frozenset("stm stmia stmea stmdb stmfd push".split()),
    "branch": frozenset(["b", "bx", "bxns"]),
    "branch_cond": frozenset(["cbz", "cbnz"]),
    "call": frozenset(["bl"]),
    "call_reg": frozenset(["blx", "blxns"]),
    "table_branch": frozenset(["tbb", "tbh"]),
    "loop_start": frozenset(["dls", "wls", "dlstp", "wlstp"]),
    "loop_end": frozenset(["le", "letp"]),
    "system": frozenset(
        "mrs msr cpsid cpsie dmb dsb isb wfi wfe sev svc bkpt udf yield clrex pld pldw pli sg "
        "tt ttt tta ttat clrm vscclrm vlstm vlldm csdb ssbb pssbb esb dbg hint bti pac pacbti "
        "aut autg bxaut lctp".split()),
    "fp_mac": frozenset("vmla vmls vnmla vnmls vfma vfms vfnma vfnms".split()),
    "fp_div": frozenset(["vdiv", "vsqrt"]),
    "fp_move": frozenset(["vmov", "vmrs", "vmsr", "vins", "vmovx"]),
    "fp_load": frozenset(["vldr"]),
    "fp_store": frozenset(["vstr"]),
    "fp_load_multiple": frozenset(["vldm", "vldmia", "vldmdb", "vpop"]),
    "fp_store_multiple": frozenset(["vstm", "vstmia", "vstmdb", "vpush"]),
}
_SCALAR_BASES = frozenset().union(*_SETS.values())
_BRANCH_CLASSES = frozenset(
    ["branch", "branch_cond", "call", "call_reg", "pop_pc", "load_pc", "table_branch"])
#: Data processing whose two-register Thumb form (`ands r0, r1`) also reads Rd.
_BINARY = frozenset(
    "adc add and asr bic eor lsl lsr mul orn orr ror rsb sbc sub".split())
_NO_DEST = frozenset(["cmp", "cmn", "tst", "teq"])

_MVE_LOADS = ("vldrb", "vldrh", "vldrw", "vldrd", "vld2", "vld4")
_MVE_STORES = ("vstrb", "vstrh", "vstrw", "vstrd", "vst2", "vst4")
_MVE_MUL_PIPE = ("vmul", "vrmul", "vqdmul", "vqrdmul", "vmla", "vmls", "vrmla", "vrmls",
                 "vqdmla", "vqrdmla", "vqdmls", "vqrdmls", "vfm", "vcmp", "vpt", "vaddv",
                 "vaddlv", "vmov", "vcvt", "vrint", "vcmul", "vcmla")
_MVE_INT_EXCEPTIONS = ("vmovl", "vmovn")
_MVE_PRED = ("vpst", "vctp", "vpnot")


@dataclass(frozen=True)
class Insn:
    """One instruction of the firmware, as the timing model sees it."""

    address: int
    size: int
    mnemonic: str
    operands: str
    base: str
    cls: str
    #: 32-bit registers a load/store multiple (or double, or FP load/store) moves.
    regs: int = 0
    #: May write the PC (a branch, a call, a return, a load to PC).
    branch: bool = False
    conditional: bool = False
    writes: int = 0
    reads: int = 0
    #: Registers that form a load's or store's address.
    address_regs: int = 0
    #: The accumulator a multiply-accumulate reads (MLA's Ra, SMLAL's RdLo and RdHi).
    accumulator: int = 0
    #: Direct branch target, when the operand names one.
    target: int | None = None
    function: str = ""

    @property
    def fallthrough(self) -> int:
        return self.address + self.size


def _mask(names: Iterable[str]) -> int:
    bits = 0
    for name in names:
        bits |= 1 << _REGISTER_NAMES[name]
    return bits


def _registers(text: str) -> list[str]:
    return _REG_RE.findall(text)


def _register_list(operands: str) -> tuple[int, int]:
    """(core register mask, 32-bit words) of a `{r4, r5-r7, lr}` or `{d8-d15}` list."""
    match = re.search(r"\{([^}]*)\}", operands)
    if match is None:
        return 0, 0
    mask, words = 0, 0
    for item in match.group(1).split(","):
        item = item.strip()
        ends = item.split("-")
        if ends[0][:1] in "sdq" and ends[0][1:].isdigit():
            first = int(ends[0][1:])
            last = int(ends[-1].strip()[1:])
            words += (last - first + 1) * {"s": 1, "d": 2, "q": 4}[ends[0][0]]
            continue
        if len(ends) == 2 and ends[0] in _REGISTER_NAMES:
            lo, hi = _REGISTER_NAMES[ends[0]], _REGISTER_NAMES[ends[1].strip()]
            for index in range(lo, hi + 1):
                mask |= 1 << index
        elif item in _REGISTER_NAMES:
            mask |= 1 << _REGISTER_NAMES[item]
    return mask, words + bin(mask).count("1")


def _split_mnemonic(mnemonic: str) -> tuple[str, bool, str]:
    """(base, conditional, qualifier) of a printed mnemonic: `ldrbeq.w` -> (ldrb, True, w)."""
    stem, _, qualifier = mnemonic.lower().partition(".")
    if stem in _SCALAR_BASES or stem.startswith("v") or re.fullmatch(r"it[te]{0,3}", stem):
        return stem, False, qualifier
    if stem[-2:] in _CONDITIONS:
        rest = stem[:-2]
        if rest in _SCALAR_BASES:
            return rest, True, qualifier
        if rest.endswith("s") and rest[:-1] in _SCALAR_BASES:
            return rest[:-1], True, qualifier
    if stem.endswith("s") and stem[:-1] in _SCALAR_BASES:
        return stem[:-1], False, qualifier
    return stem, False, qualifier


def _vector_class(base: str, qualifier: str, operands: str) -> tuple[str, str]:
    """(class, base) of a mnemonic starting with `v`: VFP on s/d registers or MVE on q."""
    is_mve = bool(re.search(r"\bq\d", operands)) or base.startswith(
        _MVE_LOADS + _MVE_STORES + _MVE_PRED)
    if not is_mve:
        for cls in ("fp_mac", "fp_div", "fp_move", "fp_load", "fp_store", "fp_load_multiple",
                    "fp_store_multiple"):
            if base in _SETS[cls]:
                return cls, base
        if base in _SETS["system"]:
            return "system", base
        return "fp", base
    if base.startswith(_MVE_PRED):
        return "mve_pred", base
    if base.startswith(_MVE_LOADS):
        return "mve_load", base
    if base.startswith(_MVE_STORES):
        return "mve_store", base
    if base.startswith(_MVE_INT_EXCEPTIONS):
        return "mve_int", base
    if base.startswith(_MVE_MUL_PIPE) or qualifier.startswith("f"):
        return "mve_mul", base
    return "mve_int", base


def _scalar_class(base: str) -> str:
    for cls, names in _SETS.items():
        if base in names:
            return cls
    if re.fullmatch(r"it[te]{0,3}", base):
        return "it"
    return "other"


def _dataflow(cls: str, base: str, operands: str) -> tuple[int, int, int]:
    """(writes, reads, address registers) as bit masks."""
    before_comment = re.sub(r"<[^>]*>", " ", operands.split("@")[0].split(";")[0])
    bracket = re.search(r"\[([^\]]*)\]", before_comment)
    address = _mask(_registers(bracket.group(1))) if bracket else 0
    outside = re.sub(r"\[[^\]]*\]|\{[^}]*\}", " ", before_comment)
    regs = _registers(outside)
    if cls in ("load", "load_pc", "load_double"):
        count = 2 if cls == "load_double" else 1
        return _mask(regs[:count]), address, address
    if cls in ("store", "store_reg", "store_double"):
        return 0, _mask(regs) | address, address
    if cls in ("load_multiple", "pop_pc", "store_multiple", "fp_load_multiple",
               "fp_store_multiple"):
        listed, _ = _register_list(before_comment)
        base_reg = _mask(regs[:1]) or _mask(["sp"])
        writes = listed if cls in ("load_multiple", "pop_pc") else 0
        reads = base_reg | (0 if writes else listed)
        return writes, reads, base_reg
    if cls in ("fp_load", "fp_store", "mve_load", "mve_store"):
        return 0, address | (_mask(regs) if "store" in cls else 0), address
    if cls in ("call", "call_reg"):
        return _mask(["lr"]), _mask(regs), 0
    if cls in ("branch", "branch_cond", "table_branch", "loop_start", "loop_end", "system"):
        return 0, _mask(regs) | address, address
    if not regs or cls == "it":
        return 0, 0, 0
    if base in _NO_DEST:
        return 0, _mask(regs), 0
    if cls in ("mull", "mlal") or base.startswith(("smlal", "smlsl")):
        accumulate = base not in ("smull", "umull")
        return _mask(regs[:2]), _mask(regs[2:]) | (_mask(regs[:2]) if accumulate else 0), 0
    reads = _mask(regs[1:])
    if len(regs) == 1 and base not in ("mov", "movw", "mvn", "adr") or \
            len(regs) == 2 and base in _BINARY or base == "movt":
        reads |= _mask(regs[:1])
    return _mask(regs[:1]), reads, 0


def _accumulator(cls: str, base: str, operands: str) -> int:
    if cls not in ("mla", "mlal", "dsp_mac"):
        return 0
    regs = _registers(operands.split("@")[0])
    if cls == "mlal" or base.startswith(("smlal", "smlsl")):
        return _mask(regs[:2])
    accumulating = cls == "mla" or base.startswith(("smla", "smlsd", "smmla", "smmls", "usada"))
    return _mask(regs[-1:]) if accumulating and len(regs) == 4 else 0


def classify(address: int, size: int, mnemonic: str, operands: str,
             function: str = "") -> Insn:
    """The `Insn` for one disassembled instruction (mnemonic and operands as objdump prints)."""
    base, conditional, qualifier = _split_mnemonic(mnemonic)
    if base.startswith("v"):
        cls, base = _vector_class(base, qualifier, operands)
        if cls == "fp" and base.endswith(("t", "e")) and base[:-1] in _SETS["fp_mac"]:
            cls = "fp_mac"
    else:
        cls = _scalar_class(base)
    if cls == "branch" and base == "b" and conditional:
        cls = "branch_cond"
    writes, reads, address_regs = _dataflow(cls, base, operands)
    accumulator = _accumulator(cls, base, operands)
    regs = 0
    if cls in ("load_multiple", "store_multiple", "fp_load_multiple", "fp_store_multiple"):
        _, regs = _register_list(operands)
    elif cls in ("load_double", "store_double"):
        regs = 2
    elif cls in ("fp_load", "fp_store"):
        regs = 2 if re.match(r"\s*d\d", operands) else 1
    if cls == "load_multiple" and writes & PC:
        cls = "pop_pc"
    elif cls == "load" and writes & PC:
        cls = "load_pc"
    elif cls == "alu" and writes & PC:
        cls = "branch"
    if cls == "store" and bin(address_regs).count("1") >= 2:
        cls = "store_reg"
    branch = cls in _BRANCH_CLASSES or (cls == "loop_end") or base in ("wls", "wlstp")
    target_match = _TARGET_RE.search(operands) if branch else None
    return Insn(address=address, size=size, mnemonic=mnemonic, operands=operands, base=base,
                cls=cls, regs=regs, branch=branch, conditional=conditional, writes=writes,
                reads=reads, address_regs=address_regs, accumulator=accumulator,
                target=int(target_match.group(1), 16) if target_match else None,
                function=function)


_LINE_RE = re.compile(r"^\s*([0-9a-f]+):\t([0-9a-f]{4}(?: [0-9a-f]{4})?) *\t(\S+)(?:\t(.*))?$")
_LABEL_RE = re.compile(r"^([0-9a-f]+) <(.+)>:$")


def parse_listing(text: str) -> Iterator[Insn]:
    """Every Thumb instruction of an `objdump -d` listing, in address order; data is skipped."""
    function = ""
    for line in text.splitlines():
        label = _LABEL_RE.match(line)
        if label:
            function = label.group(2)
            continue
        match = _LINE_RE.match(line)
        if match is None:
            continue
        address, raw, mnemonic, operands = match.groups()
        if mnemonic.startswith("."):
            continue  # .word / .short: a literal pool or a jump table
        size = 2 * len(raw.split())
        yield classify(int(address, 16), size, mnemonic, (operands or "").strip(), function)


def leaders(insns: list[Insn]) -> set[int]:
    """Addresses where execution may arrive other than from the instruction before.

    Function entries, direct branch targets, the instruction after any branch and after a
    gap (data between instructions). A timing relation with the previous instruction
    holds only where execution always comes from it, so these start afresh.
    """
    starts: set[int] = set()
    previous: Insn | None = None
    for insn in insns:
        if previous is None or previous.function != insn.function or previous.branch or \
                previous.fallthrough != insn.address:
            starts.add(insn.address)
        if insn.target is not None:
            starts.add(insn.target)
        previous = insn
    return starts

