/* tinykit instruction-class counter: a QEMU TCG plugin (plugin API version 1, QEMU 7.2).
 *
 * Built by tinykit with the host C compiler (tinykit/emulate/classcount.py) and loaded
 * with `-plugin tkcount.so,table=T,out=O`. It knows nothing about
 * Thumb: tinykit disassembles the firmware, classifies every instruction in Python and
 * writes the table T, one record per instruction address (format below). The plugin
 * adds, per class, executed instructions, registers moved (LDM/STM/PUSH/POP), taken
 * branches and two "relation" counts (timing-model pairings decided from the table).
 *
 * Branches: an instruction flagged BRANCH may write the PC; it ends its translation
 * block, so the next block that starts tells whether it was taken (the block does not
 * start at the fall-through address). Blocks of excluded code (the SysTick wrap handler)
 * are skipped: an interrupt between a branch and its successor does not disturb that.
 *
 * Stamps: the firmware samples its counter by loading SysTick's current value (the
 * load flagged IO); the instruction after it is flagged STAMP and copies every counter.
 * Under -icount QEMU aborts a block at an I/O access that is not its last instruction
 * and re-runs the access alone in an uninstrumented block (7.2 calls no callback there,
 * not even a memory one); an interrupt taken at that point makes it re-run the access
 * in an instrumented block instead. So the IO load is never counted inline: the STAMP
 * callback, which runs exactly once per execution of the load, counts it. A read is
 * complete when the function returns (READ_DONE): the SysTick read is retried when the
 * wrap handler ran in the middle, and only its last stamp counts. Lines go to O: "O" for the first two reads (the firmware measures its counter overhead there),
 * "S" at each call of the model's invoke (a copy of the read just before), "H" for
 * reads inside the invoke (the layer hook), "E" for the first read after it returns.
 * Each line: tag, untabled and excluded instructions, then count, registers, taken,
 * relation 0 and relation 1 for every class, cumulative.
 *
 * The declarations of the QEMU plugin API below are written for this file from the
 * documented interface of QEMU 7.2 (include/qemu/qemu-plugin.h, QEMU_PLUGIN_VERSION 1).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- QEMU plugin API (version 1): only what this plugin uses ---------------------- */

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;

typedef struct {
    const char *target_name;
    struct {
        int min;
        int cur;
    } version;
    bool system_emulation;
    union {
        struct {
            int smp_vcpus;
            int max_vcpus;
        } system;
    };
} qemu_info_t;

enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };

typedef void (*tb_trans_cb)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*vcpu_udata_cb)(unsigned int vcpu_index, void *userdata);
typedef void (*udata_cb)(qemu_plugin_id_t id, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, tb_trans_cb cb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, vcpu_udata_cb cb,
                                          enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, vcpu_udata_cb cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn,
                                                enum qemu_plugin_op op, void *ptr, uint64_t imm);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, udata_cb cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
void qemu_plugin_outs(const char *string);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

/* ---- the table ------------------------------------------------------------------- */

/* Must match tinykit/emulate/classcount.py. */
#define TABLE_MAGIC "TKCT"
#define TABLE_VERSION 2u
#define RECORD_BYTES 12u
#define MAX_CLASSES 64u

enum {
    FLAG_BRANCH = 1u << 0,        /* may write the PC */
    FLAG_EXCLUDED = 1u << 1,      /* not the measured code's (the counter's wrap handler) */
    FLAG_STAMP = 1u << 2,         /* the instruction after the IO load */
    FLAG_INVOKE_CALL = 1u << 3,   /* a call of the model's invoke function */
    FLAG_INVOKE_RETURN = 1u << 4, /* the instruction such a call returns to */
    FLAG_REL0 = 1u << 5,          /* timing relation 0 holds with the previous instruction */
    FLAG_REL1 = 1u << 6,          /* timing relation 1 holds with the previous instruction */
    FLAG_IO = 1u << 7,            /* the counter's I/O load, counted by the STAMP after it */
    FLAG_READ_DONE = 1u << 8,     /* leaves the counter-reading function */
};

typedef struct {
    uint32_t address;
    uint8_t size; /* bytes: 2 or 4 */
    uint8_t cls;
    uint8_t regs; /* 32-bit registers moved by a load/store multiple */
    uint32_t flags;
} record_t;

enum { KIND_COUNT, KIND_REGS, KIND_TAKEN, KIND_REL0, KIND_REL1, KINDS };

static record_t *table;
static size_t table_len;
static unsigned n_classes;
static FILE *out;

/* counters[kind][class]; then untabled and excluded instructions. */
static uint64_t counters[KINDS][MAX_CLASSES];
static uint64_t untabled, excluded;
static uint64_t last_read[KINDS * MAX_CLASSES + 2];

static const record_t *pending_branch; /* a branch whose outcome the next block tells */
static unsigned reads_seen;
static bool read_open, in_invoke, want_end;

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static int load_table(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char header[16];
    if (f == NULL) {
        return -1;
    }
    if (fread(header, 1, sizeof header, f) != sizeof header ||
        memcmp(header, TABLE_MAGIC, 4) != 0 || le32(header + 4) != TABLE_VERSION) {
        fclose(f);
        return -2;
    }
    n_classes = le32(header + 8);
    table_len = le32(header + 12);
    if (n_classes == 0 || n_classes > MAX_CLASSES) {
        fclose(f);
        return -3;
    }
    table = calloc(table_len ? table_len : 1, sizeof *table);
    if (table == NULL) {
        fclose(f);
        return -4;
    }
    for (size_t i = 0; i < table_len; i++) {
        unsigned char r[RECORD_BYTES];
        if (fread(r, 1, sizeof r, f) != sizeof r || r[5] >= n_classes) {
            fclose(f);
            return -5;
        }
        table[i].address = le32(r);
        table[i].size = r[4];
        table[i].cls = r[5];
        table[i].regs = r[6];
        table[i].flags = le32(r + 8);
    }
    for (size_t i = 0; i < table_len; i++) {
        /* A STAMP record must follow its IO load: on_stamp counts `rec - 1`. */
        bool paired = i > 0 && (table[i - 1].flags & FLAG_IO) &&
                      table[i - 1].address + table[i - 1].size == table[i].address;
        if ((table[i].flags & FLAG_STAMP) && !paired) {
            fclose(f);
            return -6;
        }
    }
    fclose(f);
    return 0;
}

/* The record of the instruction at `address`, or NULL (records are sorted by address). */
static const record_t *lookup(uint64_t address)
{
    size_t lo = 0, hi = table_len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (table[mid].address < address) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < table_len && table[lo].address == address ? &table[lo] : NULL;
}

/* ---- run time -------------------------------------------------------------------- */

static void emit(char tag, const uint64_t *values)
{
    if (out == NULL) {
        return;
    }
    fputc(tag, out);
    for (unsigned k = 0; k < 2; k++) {
        fprintf(out, " %" PRIu64, values[KINDS * MAX_CLASSES + k]);
    }
    for (unsigned kind = 0; kind < KINDS; kind++) {
        for (unsigned c = 0; c < n_classes; c++) {
            fprintf(out, " %" PRIu64, values[kind * MAX_CLASSES + c]);
        }
    }
    fputc('\n', out);
    fflush(out);
}

static void snapshot(uint64_t *into)
{
    memcpy(into, counters, sizeof counters);
    into[KINDS * MAX_CLASSES] = untabled;
    into[KINDS * MAX_CLASSES + 1] = excluded;
}

static void on_block(unsigned int vcpu, void *userdata)
{
    (void)vcpu;
    if (pending_branch != NULL) {
        uint64_t start = (uint64_t)(uintptr_t)userdata;
        if (start != (uint64_t)pending_branch->address + pending_branch->size) {
            counters[KIND_TAKEN][pending_branch->cls]++;
        }
        pending_branch = NULL;
    }
}

static void on_branch(unsigned int vcpu, void *userdata)
{
    (void)vcpu;
    pending_branch = userdata;
}

static void on_invoke_call(unsigned int vcpu, void *userdata)
{
    (void)vcpu;
    (void)userdata;
    emit('S', last_read);
    in_invoke = true;
}

static void on_invoke_return(unsigned int vcpu, void *userdata)
{
    (void)vcpu;
    (void)userdata;
    in_invoke = false;
    want_end = true;
}

static void count_record(const record_t *rec)
{
    counters[KIND_COUNT][rec->cls]++;
    counters[KIND_REGS][rec->cls] += rec->regs;
    counters[KIND_REL0][rec->cls] += (rec->flags & FLAG_REL0) != 0;
    counters[KIND_REL1][rec->cls] += (rec->flags & FLAG_REL1) != 0;
}

static void on_stamp(unsigned int vcpu, void *userdata)
{
    const record_t *rec = userdata;
    (void)vcpu;
    /* The IO load right before (the table pairs them: see load_table). */
    count_record(rec - 1);
    snapshot(last_read);
    read_open = true;
}

/* The read is complete (its function returns): a read retried because the wrap handler
 * ran in the middle stamps twice, and only the last stamp is the value it returns. */
static void on_read_done(unsigned int vcpu, void *userdata)
{
    (void)vcpu;
    (void)userdata;
    if (!read_open) {
        return;
    }
    read_open = false;
    if (reads_seen < 2) {
        reads_seen++;
        emit('O', last_read);
    }
    if (in_invoke) {
        emit('H', last_read);
    } else if (want_end) {
        want_end = false;
        emit('E', last_read);
    }
}

/* ---- translation ----------------------------------------------------------------- */

static void count_inline(struct qemu_plugin_insn *insn, unsigned kind, unsigned cls, uint64_t n)
{
    qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64,
                                               &counters[kind][cls], n);
}

static void instrument(struct qemu_plugin_insn *insn, const record_t *rec)
{
    if (rec == NULL) {
        qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64,
                                                   &untabled, 1);
        return;
    }
    if (rec->flags & FLAG_IO) {
        return; /* counted by the STAMP callback after it */
    }
    if (rec->flags & FLAG_EXCLUDED) {
        qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64,
                                                   &excluded, 1);
        return;
    }
    count_inline(insn, KIND_COUNT, rec->cls, 1);
    if (rec->regs) {
        count_inline(insn, KIND_REGS, rec->cls, rec->regs);
    }
    if (rec->flags & FLAG_REL0) {
        count_inline(insn, KIND_REL0, rec->cls, 1);
    }
    if (rec->flags & FLAG_REL1) {
        count_inline(insn, KIND_REL1, rec->cls, 1);
    }
    void *udata = (void *)(uintptr_t)rec;
    if (rec->flags & FLAG_INVOKE_CALL) {
        qemu_plugin_register_vcpu_insn_exec_cb(insn, on_invoke_call, QEMU_PLUGIN_CB_NO_REGS, udata);
    }
    if (rec->flags & FLAG_INVOKE_RETURN) {
        qemu_plugin_register_vcpu_insn_exec_cb(insn, on_invoke_return, QEMU_PLUGIN_CB_NO_REGS,
                                               udata);
    }
    if (rec->flags & FLAG_BRANCH) {
        qemu_plugin_register_vcpu_insn_exec_cb(insn, on_branch, QEMU_PLUGIN_CB_NO_REGS, udata);
    }
    if (rec->flags & FLAG_STAMP) {
        qemu_plugin_register_vcpu_insn_exec_cb(insn, on_stamp, QEMU_PLUGIN_CB_NO_REGS, udata);
    }
    if (rec->flags & FLAG_READ_DONE) {
        qemu_plugin_register_vcpu_insn_exec_cb(insn, on_read_done, QEMU_PLUGIN_CB_NO_REGS, udata);
    }
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    uint64_t start = qemu_plugin_tb_vaddr(tb);
    const record_t *first = lookup(start);
    if (first == NULL || !(first->flags & FLAG_EXCLUDED)) {
        qemu_plugin_register_vcpu_tb_exec_cb(tb, on_block, QEMU_PLUGIN_CB_NO_REGS,
                                             (void *)(uintptr_t)start);
    }
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        const record_t *rec = lookup(qemu_plugin_insn_vaddr(insn));
        /* A record longer than the bytes QEMU decoded means the table does not describe
         * this code. (QEMU may report more: near a page end it peeks at the next
         * halfword to see whether the instruction crosses the page.) */
        if (rec != NULL && rec->size > qemu_plugin_insn_size(insn)) {
            rec = NULL;
        }
        instrument(insn, rec);
    }
}

static void on_plugin_exit(qemu_plugin_id_t id, void *userdata)
{
    (void)id;
    (void)userdata;
    if (out != NULL) {
        fclose(out);
        out = NULL;
    }
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id,
                                                               const qemu_info_t *info,
                                                               int argc, char **argv)
{
    const char *table_path = NULL, *out_path = NULL;
    (void)info;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "table=", 6) == 0) {
            table_path = argv[i] + 6;
        } else if (strncmp(argv[i], "out=", 4) == 0) {
            out_path = argv[i] + 4;
        } else {
            qemu_plugin_outs("tkcount: unknown argument\n");
            return -1;
        }
    }
    if (table_path == NULL || out_path == NULL) {
        qemu_plugin_outs("tkcount: needs table=FILE and out=FILE\n");
        return -1;
    }
    if (load_table(table_path) != 0) {
        qemu_plugin_outs("tkcount: cannot read the instruction table\n");
        return -1;
    }
    out = fopen(out_path, "w");
    if (out == NULL) {
        qemu_plugin_outs("tkcount: cannot write the output file\n");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_plugin_exit, NULL);
    return 0;
}
