/*
 * Building a flattened device tree (DTB) with libfdt's sequential-write
 * API, for machines that describe their hardware to the guest that way
 * (arm64 virt).  Nodes are written depth-first, in order: begin a node,
 * add its properties, add its subnodes, end it.
 *
 * Errors are sticky: the first libfdt failure is kept and every later
 * call does nothing, so a machine writes its whole tree and checks once,
 * at fdt_builder_finish().
 *
 * Interrupt specifiers are those of the GIC binding
 * (Documentation/devicetree/bindings/interrupt-controller/arm,gic*.yaml):
 * three cells, <type number flags>, with the GIC as the root's
 * interrupt-parent.
 */
#ifndef VMSPEC_FDT_BUILDER_H
#define VMSPEC_FDT_BUILDER_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>


/* First cell of a GIC interrupt specifier. */
#define FDT_GIC_SPI                 0
#define FDT_GIC_PPI                 1
/* Third cell: trigger type (include/dt-bindings/interrupt-controller/irq.h). */
#define FDT_IRQ_EDGE_RISING         1
#define FDT_IRQ_LEVEL_HIGH          4

typedef struct FdtBuilder {
    void *blob;
    int size;
    int err;                /* first libfdt error (negative), or 0 */
    char *err_where;        /* the node or property it happened at */
} FdtBuilder;

/* Starts a tree (empty memory reservation map) in a buffer of max_size
 * bytes (a DTB for Linux is at most 2 MiB: arm64 booting.rst). */
void fdt_builder_init(FdtBuilder *b, int max_size);

/* Frees the buffer of a builder that was not finished. */
void fdt_builder_clear(FdtBuilder *b);

void fdt_builder_begin_node(FdtBuilder *b, const char *name);
/* "NAME@ADDR" with the unit address in lower-case hex. */
void fdt_builder_begin_node_at(FdtBuilder *b, const char *name,
                               uint64_t addr);
void fdt_builder_end_node(FdtBuilder *b);

void fdt_builder_prop_empty(FdtBuilder *b, const char *name);
void fdt_builder_prop_string(FdtBuilder *b, const char *name,
                             const char *value);
/* A string list ("a\0b\0"): NULL-terminated array. */
void fdt_builder_prop_strings(FdtBuilder *b, const char *name,
                              const char *const *values);
void fdt_builder_prop_u32(FdtBuilder *b, const char *name, uint32_t value);
void fdt_builder_prop_u64(FdtBuilder *b, const char *name, uint64_t value);
/* n big-endian 32-bit cells. */
void fdt_builder_prop_cells(FdtBuilder *b, const char *name,
                            const uint32_t *cells, unsigned n);
void fdt_builder_prop_bytes(FdtBuilder *b, const char *name,
                            const void *data, unsigned len);
/* reg = <addr size> with #address-cells = #size-cells = 2 (the root's). */
void fdt_builder_prop_reg(FdtBuilder *b, uint64_t addr, uint64_t size);
/* interrupts = <FDT_GIC_SPI spi flags>, spi counted from 0 (GIC ID 32). */
void fdt_builder_prop_spi(FdtBuilder *b, uint32_t spi, uint32_t flags);

/*
 * Completes the tree.  On success returns the DTB (caller owns it) and
 * leaves b empty; on failure returns NULL with an error naming where the
 * first failure happened (a tree larger than max_size included).
 */
GBytes *fdt_builder_finish(FdtBuilder *b, GError **errp);

#endif
