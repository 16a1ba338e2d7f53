#include "machine/qom/error.h"

G_DEFINE_QUARK(vmspec-error-quark, vmspec_error)
