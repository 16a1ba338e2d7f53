/*
 * AML byte-code builder.  Encodings from ACPI 6.5 chapter 20 (AML
 * grammar) and section 6.4 (resource data types).
 */
#include "machine/x86/aml.h"

#include <string.h>

/* Opcodes (ACPI 6.5 20.3 "AML Byte Stream Byte Values"). */
#define AML_ZERO_OP          0x00
#define AML_ONE_OP           0x01
#define AML_NAME_OP          0x08
#define AML_BYTE_PREFIX      0x0a
#define AML_WORD_PREFIX      0x0b
#define AML_DWORD_PREFIX     0x0c
#define AML_STRING_PREFIX    0x0d
#define AML_QWORD_PREFIX     0x0e
#define AML_SCOPE_OP         0x10
#define AML_BUFFER_OP        0x11
#define AML_PACKAGE_OP       0x12
#define AML_DUAL_NAME_PREFIX 0x2e
#define AML_MULTI_NAME_PREFIX 0x2f
#define AML_EXT_OP_PREFIX    0x5b
#define AML_DEVICE_OP        0x82    /* after AML_EXT_OP_PREFIX */
#define AML_ROOT_CHAR        '\\'
#define AML_PARENT_PREFIX    '^'

/* Resource descriptor tags (6.4.2, 6.4.3). */
#define RES_IO               0x47    /* small, type 0x08, length 7 */
#define RES_FIXED_IO         0x4b    /* small, type 0x09, length 3 */
#define RES_END_TAG          0x79    /* small, type 0x0f, length 1 */
#define RES_MEMORY32_FIXED   0x86    /* large, type 0x06 */
#define RES_EXT_IRQ          0x89    /* large, type 0x09 */

/* The largest PkgLength value: 28 bits (20.2.4). */
#define AML_PKGLEN_MAX       0x0fffffffu

typedef enum {
    BLOCK_PKGLEN,       /* Scope, Device, Package: PkgLength then body */
    BLOCK_RESOURCES,    /* Buffer: PkgLength, BufferSize, descriptors */
} BlockKind;

typedef struct {
    BlockKind kind;
    size_t start;       /* offset where the PkgLength goes */
} Block;

struct Aml {
    GByteArray *buf;
    GArray *blocks;     /* of Block, innermost last */
};

Aml *aml_new(void)
{
    Aml *aml = g_new0(Aml, 1);

    aml->buf = g_byte_array_new();
    aml->blocks = g_array_new(FALSE, FALSE, sizeof(Block));
    return aml;
}

void aml_free(Aml *aml)
{
    if (!aml) {
        return;
    }
    g_byte_array_unref(aml->buf);
    g_array_unref(aml->blocks);
    g_free(aml);
}

const uint8_t *aml_data(const Aml *aml)
{
    return aml->buf->data;
}

size_t aml_len(const Aml *aml)
{
    return aml->buf->len;
}

unsigned aml_depth(const Aml *aml)
{
    return aml->blocks->len;
}

static void put8(Aml *aml, uint8_t v)
{
    g_byte_array_append(aml->buf, &v, 1);
}

static void put_le(Aml *aml, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++) {
        put8(aml, (uint8_t)(v >> (8 * i)));
    }
}

/* Inserts n bytes at offset pos, shifting what follows. */
static void insert_bytes(Aml *aml, size_t pos, const uint8_t *bytes,
                         size_t n)
{
    size_t old = aml->buf->len;

    g_byte_array_set_size(aml->buf, old + n);
    memmove(aml->buf->data + pos + n, aml->buf->data + pos, old - pos);
    memcpy(aml->buf->data + pos, bytes, n);
}

/*
 * PkgLength (20.2.4): one byte holds values up to 63 in bits 0-5; otherwise
 * bits 6-7 of the lead byte count the 1-3 bytes that follow, the lead byte's
 * bits 0-3 hold the low nibble and each following byte the next 8 bits.
 */
size_t aml_pkglen_encode(uint32_t len, uint8_t out[4])
{
    g_assert(len <= AML_PKGLEN_MAX);
    if (len <= 0x3f) {
        out[0] = (uint8_t)len;
        return 1;
    }
    size_t n = len <= 0xfff ? 2 : len <= 0xfffff ? 3 : 4;
    out[0] = (uint8_t)(((n - 1) << 6) | (len & 0xf));
    for (size_t i = 1; i < n; i++) {
        out[i] = (uint8_t)(len >> (4 + 8 * (i - 1)));
    }
    return n;
}

/* Inserts at pos the PkgLength for `body` bytes that follow it. */
static void insert_pkglen(Aml *aml, size_t pos, size_t body)
{
    static const size_t max[] = { 0, 0x3f, 0xfff, 0xfffff, 0xfffffff };
    uint8_t enc[4];
    size_t n = 1;

    /* The value counts its own bytes: pick the smallest size that fits. */
    while (n < 4 && body + n > max[n]) {
        n++;
    }
    g_assert(body + n <= max[n]);
    size_t used = aml_pkglen_encode((uint32_t)(body + n), enc);
    g_assert(used == n);
    insert_bytes(aml, pos, enc, n);
}

static void block_begin(Aml *aml, BlockKind kind)
{
    Block b = { .kind = kind, .start = aml->buf->len };

    g_array_append_val(aml->blocks, b);
}

static bool is_lead_char(char c)
{
    return (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_name_char(char c)
{
    return is_lead_char(c) || (c >= '0' && c <= '9');
}

/* Appends one NameSeg (20.2.2) of 1-4 characters padded with '_'. */
static void put_nameseg(Aml *aml, const char *seg, size_t len)
{
    g_assert(len >= 1 && len <= 4);
    g_assert(is_lead_char(seg[0]));
    for (size_t i = 0; i < 4; i++) {
        char c = i < len ? seg[i] : '_';
        g_assert(is_name_char(c));
        put8(aml, (uint8_t)c);
    }
}

/*
 * NameString (20.2.2): optional RootChar or ParentPrefixChars, then
 * NullName, one NameSeg, DualNamePath or MultiNamePath.
 */
static void put_namestring(Aml *aml, const char *path)
{
    const char *p = path;
    unsigned segs = 0;

    if (*p == AML_ROOT_CHAR) {
        put8(aml, AML_ROOT_CHAR);
        p++;
    } else {
        while (*p == AML_PARENT_PREFIX) {
            put8(aml, AML_PARENT_PREFIX);
            p++;
        }
    }
    if (*p == '\0') {
        g_assert(p != path);            /* "" is not a name */
        put8(aml, AML_ZERO_OP);         /* NullName */
        return;
    }
    for (const char *q = p; q; q = strchr(q, '.')) {
        segs++;
        q++;
    }
    g_assert(segs <= 255);
    if (segs == 2) {
        put8(aml, AML_DUAL_NAME_PREFIX);
    } else if (segs > 2) {
        put8(aml, AML_MULTI_NAME_PREFIX);
        put8(aml, (uint8_t)segs);
    }
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        put_nameseg(aml, p, len);
        p += len + (dot ? 1 : 0);
        g_assert(!dot || *p);           /* no trailing '.' */
    }
}

void aml_scope_begin(Aml *aml, const char *path)
{
    put8(aml, AML_SCOPE_OP);
    block_begin(aml, BLOCK_PKGLEN);
    put_namestring(aml, path);
}

void aml_device_begin(Aml *aml, const char *name)
{
    put8(aml, AML_EXT_OP_PREFIX);
    put8(aml, AML_DEVICE_OP);
    block_begin(aml, BLOCK_PKGLEN);
    put_namestring(aml, name);
}

/* Appends the End Tag (6.4.2.9) to the descriptors that start at start. */
static void put_end_tag(Aml *aml, size_t start)
{
    uint8_t sum = RES_END_TAG;

    for (size_t i = start; i < aml->buf->len; i++) {
        sum += aml->buf->data[i];
    }
    put8(aml, RES_END_TAG);
    put8(aml, (uint8_t)-sum);
}

void aml_end(Aml *aml)
{
    g_assert(aml->blocks->len > 0);
    Block b = g_array_index(aml->blocks, Block, aml->blocks->len - 1);
    g_array_set_size(aml->blocks, aml->blocks->len - 1);

    if (b.kind == BLOCK_RESOURCES) {
        /* DefBuffer (20.2.5.4): PkgLength BufferSize(TermArg) ByteList. */
        put_end_tag(aml, b.start);
        size_t nbytes = aml->buf->len - b.start;
        Aml *size = aml_new();
        aml_int(size, nbytes);
        insert_bytes(aml, b.start, size->buf->data, size->buf->len);
        insert_pkglen(aml, b.start, aml->buf->len - b.start);
        aml_free(size);
        return;
    }
    insert_pkglen(aml, b.start, aml->buf->len - b.start);
}

/* Integers (20.2.3): ConstObj or the shortest Byte/Word/DWord/QWordConst. */
void aml_int(Aml *aml, uint64_t value)
{
    if (value == 0) {
        put8(aml, AML_ZERO_OP);
    } else if (value == 1) {
        put8(aml, AML_ONE_OP);
    } else if (value <= UINT8_MAX) {
        put8(aml, AML_BYTE_PREFIX);
        put_le(aml, value, 1);
    } else if (value <= UINT16_MAX) {
        put8(aml, AML_WORD_PREFIX);
        put_le(aml, value, 2);
    } else if (value <= UINT32_MAX) {
        put8(aml, AML_DWORD_PREFIX);
        put_le(aml, value, 4);
    } else {
        put8(aml, AML_QWORD_PREFIX);
        put_le(aml, value, 8);
    }
}

/* String (20.2.3): StringPrefix AsciiCharList NullChar; chars 0x01-0x7f. */
void aml_string(Aml *aml, const char *str)
{
    put8(aml, AML_STRING_PREFIX);
    for (const char *p = str; *p; p++) {
        g_assert((unsigned char)*p <= 0x7f);
        put8(aml, (uint8_t)*p);
    }
    put8(aml, 0);
}

static unsigned hex_digit(char c)
{
    g_assert(g_ascii_isxdigit(c));
    return (unsigned)g_ascii_xdigit_value(c);
}

/*
 * EISAID (ASL 19.6.35): three upper-case letters, each stored as 5 bits
 * (letter - 0x40), then four hex digits; the 32-bit result is stored
 * big-endian (byte-swapped) in a DWordConst.
 */
void aml_eisaid(Aml *aml, const char *id)
{
    g_assert(strlen(id) == 7);
    uint32_t v = 0;
    for (int i = 0; i < 3; i++) {
        g_assert(id[i] >= 'A' && id[i] <= 'Z');
        v |= (uint32_t)(id[i] - 0x40) << (26 - 5 * i);
    }
    for (int i = 3; i < 7; i++) {
        v |= hex_digit(id[i]) << (4 * (6 - i));
    }
    put8(aml, AML_DWORD_PREFIX);
    put_le(aml, GUINT32_SWAP_LE_BE(v), 4);
}

/* DefPackage (20.2.5.4): PkgLength NumElements PackageElementList. */
void aml_package_ints(Aml *aml, const uint64_t *values, unsigned count)
{
    g_assert(count <= 255);
    put8(aml, AML_PACKAGE_OP);
    block_begin(aml, BLOCK_PKGLEN);
    put8(aml, (uint8_t)count);
    for (unsigned i = 0; i < count; i++) {
        aml_int(aml, values[i]);
    }
    aml_end(aml);
}

void aml_name(Aml *aml, const char *name)
{
    put8(aml, AML_NAME_OP);
    put_namestring(aml, name);
}

void aml_name_int(Aml *aml, const char *name, uint64_t value)
{
    aml_name(aml, name);
    aml_int(aml, value);
}

void aml_name_string(Aml *aml, const char *name, const char *str)
{
    aml_name(aml, name);
    aml_string(aml, str);
}

void aml_name_eisaid(Aml *aml, const char *name, const char *id)
{
    aml_name(aml, name);
    aml_eisaid(aml, id);
}

void aml_resource_template_begin(Aml *aml)
{
    put8(aml, AML_BUFFER_OP);
    block_begin(aml, BLOCK_RESOURCES);
}

static void assert_in_template(const Aml *aml)
{
    g_assert(aml->blocks->len > 0);
    g_assert(g_array_index(aml->blocks, Block, aml->blocks->len - 1).kind ==
             BLOCK_RESOURCES);
}

/* 6.4.3.4: tag, length 9 (u16), information (bit 0: writable), base, len. */
void aml_memory32_fixed(Aml *aml, bool writable, uint32_t base, uint32_t len)
{
    assert_in_template(aml);
    put8(aml, RES_MEMORY32_FIXED);
    put_le(aml, 9, 2);
    put8(aml, writable ? 1 : 0);
    put_le(aml, base, 4);
    put_le(aml, len, 4);
}

/* 6.4.2.5: tag, information (bit 0: 16-bit decode), min, max, align, len. */
void aml_io(Aml *aml, bool decode16, uint16_t min, uint16_t max,
            uint8_t align, uint8_t len)
{
    assert_in_template(aml);
    g_assert(min <= max);
    put8(aml, RES_IO);
    put8(aml, decode16 ? 1 : 0);
    put_le(aml, min, 2);
    put_le(aml, max, 2);
    put8(aml, align);
    put8(aml, len);
}

/* 6.4.2.6: tag, base (10-bit decode), length. */
void aml_fixed_io(Aml *aml, uint16_t base, uint8_t len)
{
    assert_in_template(aml);
    g_assert(base <= 0x3ff);
    put8(aml, RES_FIXED_IO);
    put_le(aml, base, 2);
    put8(aml, len);
}

/*
 * 6.4.3.6: tag, length (u16, 2 + 4 per interrupt), flags (bit 0 consumer,
 * bit 1 edge, bit 2 active-low, bit 3 shared), table length, u32 GSIs.
 */
void aml_interrupt(Aml *aml, AmlTrigger trigger, AmlPolarity polarity,
                   AmlSharing sharing, uint32_t gsi)
{
    assert_in_template(aml);
    put8(aml, RES_EXT_IRQ);
    put_le(aml, 6, 2);
    put8(aml, (uint8_t)(1 | (trigger == AML_EDGE ? 1 << 1 : 0) |
                        (polarity == AML_ACTIVE_LOW ? 1 << 2 : 0) |
                        (sharing == AML_SHARED ? 1 << 3 : 0)));
    put8(aml, 1);
    put_le(aml, gsi, 4);
}

void aml_virtio_mmio_device(Aml *scope, unsigned index, uint64_t base,
                            uint32_t size, uint32_t gsi)
{
    char name[5];

    g_assert(index < 256);
    g_assert(base + size <= (UINT64_C(1) << 32));
    g_snprintf(name, sizeof(name), "VR%02X", index);

    aml_device_begin(scope, name);
    aml_name_string(scope, "_HID", "LNRO0005");
    aml_name_int(scope, "_UID", index);
    aml_name(scope, "_CRS");
    aml_resource_template_begin(scope);
    aml_memory32_fixed(scope, true, (uint32_t)base, size);
    aml_interrupt(scope, AML_EDGE, AML_ACTIVE_HIGH, AML_EXCLUSIVE, gsi);
    aml_end(scope);
    aml_end(scope);
}
