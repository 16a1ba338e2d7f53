/*
 * Host resource claims (see host-claims.h).
 */
#include "machine/qom/host-claims.h"

HostClaims *host_claims_new(void)
{
    HostClaims *claims = g_new0(HostClaims, 1);

    claims->items = g_ptr_array_new_with_free_func(g_free);
    claims->strings = g_string_chunk_new(256);
    return claims;
}

void host_claims_free(HostClaims *claims)
{
    if (!claims) {
        return;
    }
    g_ptr_array_unref(claims->items);
    g_string_chunk_free(claims->strings);
    g_free(claims);
}

static const char *copy(HostClaims *claims, const char *s)
{
    return s ? g_string_chunk_insert_const(claims->strings, s) : NULL;
}

void host_claims_add(HostClaims *claims, const HostClaim *claim)
{
    HostClaim *c = g_new(HostClaim, 1);

    g_assert(claim->value);
    *c = *claim;
    c->value = copy(claims, claim->value);
    c->noun = copy(claims, claim->noun);
    c->who = copy(claims, claim->who);
    c->origin = copy(claims, claim->origin);
    g_ptr_array_add(claims->items, c);
}

void host_claims_add_for(HostClaims *claims, DeviceState *dev,
                         const char *role, HostClaimKind kind,
                         const char *value, bool writes, const char *noun)
{
    g_autofree char *who = g_strdup_printf("%s '%s'", role,
                                           dev->id ? dev->id : "?");

    host_claims_add(claims, &(HostClaim){
        .kind = kind, .value = value, .writes = writes, .noun = noun,
        .who = who, .origin = dev->origin,
    });
}

guint host_claims_len(const HostClaims *claims)
{
    return claims->items->len;
}

const HostClaim *host_claims_get(const HostClaims *claims, guint i)
{
    return g_ptr_array_index(claims->items, i);
}

static bool collect_one(Object *obj, void *opaque)
{
    DeviceState *dev = (DeviceState *)object_dynamic_cast(obj, TYPE_DEVICE);

    if (dev && DEVICE_GET_CLASS(dev)->host_claims) {
        DEVICE_GET_CLASS(dev)->host_claims(dev, opaque);
    }
    return object_child_foreach(obj, collect_one, opaque);
}

void host_claims_collect(Object *root, HostClaims *claims)
{
    object_child_foreach(root, collect_one, claims);
}
