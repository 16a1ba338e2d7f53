/*
 * Sequential-write device tree builder over libfdt (see builder.h).
 */
#include "machine/fdt/builder.h"

#include <libfdt.h>
#include <string.h>

#include "machine/qom/error.h"

void fdt_builder_init(FdtBuilder *b, int max_size)
{
    *b = (FdtBuilder){ .size = max_size };
    b->blob = g_malloc0(max_size);
    b->err = fdt_create(b->blob, max_size);
    if (!b->err) {
        b->err = fdt_finish_reservemap(b->blob);
    }
    if (b->err) {
        b->err_where = g_strdup("the header");
    }
}

void fdt_builder_clear(FdtBuilder *b)
{
    g_clear_pointer(&b->blob, g_free);
    g_clear_pointer(&b->err_where, g_free);
}

/* Records the first failure; later calls see b->err and do nothing. */
static void check(FdtBuilder *b, int ret, const char *what)
{
    if (ret < 0 && !b->err) {
        b->err = ret;
        b->err_where = g_strdup(what);
    }
}

void fdt_builder_begin_node(FdtBuilder *b, const char *name)
{
    if (!b->err) {
        check(b, fdt_begin_node(b->blob, name), name);
    }
}

void fdt_builder_begin_node_at(FdtBuilder *b, const char *name,
                               uint64_t addr)
{
    g_autofree char *full = g_strdup_printf("%s@%" G_GINT64_MODIFIER "x",
                                            name, addr);

    fdt_builder_begin_node(b, full);
}

void fdt_builder_end_node(FdtBuilder *b)
{
    if (!b->err) {
        check(b, fdt_end_node(b->blob), "end of a node");
    }
}

void fdt_builder_prop_bytes(FdtBuilder *b, const char *name,
                            const void *data, unsigned len)
{
    if (!b->err) {
        check(b, fdt_property(b->blob, name, data, (int)len), name);
    }
}

void fdt_builder_prop_empty(FdtBuilder *b, const char *name)
{
    fdt_builder_prop_bytes(b, name, NULL, 0);
}

void fdt_builder_prop_string(FdtBuilder *b, const char *name,
                             const char *value)
{
    fdt_builder_prop_bytes(b, name, value, (unsigned)strlen(value) + 1);
}

void fdt_builder_prop_strings(FdtBuilder *b, const char *name,
                              const char *const *values)
{
    g_autoptr(GString) list = g_string_new(NULL);

    for (; *values; values++) {
        g_string_append_len(list, *values, (gssize)strlen(*values) + 1);
    }
    fdt_builder_prop_bytes(b, name, list->str, (unsigned)list->len);
}

void fdt_builder_prop_u32(FdtBuilder *b, const char *name, uint32_t value)
{
    fdt_builder_prop_cells(b, name, &value, 1);
}

void fdt_builder_prop_u64(FdtBuilder *b, const char *name, uint64_t value)
{
    uint32_t cells[2] = { (uint32_t)(value >> 32), (uint32_t)value };

    fdt_builder_prop_cells(b, name, cells, 2);
}

void fdt_builder_prop_cells(FdtBuilder *b, const char *name,
                            const uint32_t *cells, unsigned n)
{
    g_autofree fdt32_t *be = g_new(fdt32_t, n ? n : 1);

    for (unsigned i = 0; i < n; i++) {
        be[i] = cpu_to_fdt32(cells[i]);
    }
    fdt_builder_prop_bytes(b, name, be, n * (unsigned)sizeof(fdt32_t));
}

void fdt_builder_prop_reg(FdtBuilder *b, uint64_t addr, uint64_t size)
{
    uint32_t cells[4] = {
        (uint32_t)(addr >> 32), (uint32_t)addr,
        (uint32_t)(size >> 32), (uint32_t)size,
    };

    fdt_builder_prop_cells(b, "reg", cells, 4);
}

void fdt_builder_prop_spi(FdtBuilder *b, uint32_t spi, uint32_t flags)
{
    uint32_t cells[3] = { FDT_GIC_SPI, spi, flags };

    fdt_builder_prop_cells(b, "interrupts", cells, 3);
}

GBytes *fdt_builder_finish(FdtBuilder *b, GError **errp)
{
    if (!b->err) {
        check(b, fdt_finish(b->blob), "the end of the tree");
    }
    if (b->err) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_FAILED,
                    "device tree: %s at %s%s", fdt_strerror(b->err),
                    b->err_where,
                    b->err == -FDT_ERR_NOSPACE ? " (the tree is too large)"
                                               : "");
        fdt_builder_clear(b);
        return NULL;
    }
    size_t len = fdt_totalsize(b->blob);

    g_clear_pointer(&b->err_where, g_free);
    return g_bytes_new_take(g_realloc(g_steal_pointer(&b->blob), len), len);
}
