/*
 * What the fully static build of build/vmspec (Makefile, STATIC=1) puts in
 * place of glibc's passwd lookups.
 *
 * A static glibc answers getpwnam_r() and friends through NSS, by loading
 * the host's libnss_*.so modules at run time, which works only when they
 * come from the very glibc version vmspec was linked with (the linker warns
 * about exactly this).  vmspec never asks for a user database entry; the
 * references come from GLib's gutils.o, which also holds functions vmspec
 * does use (g_get_tmp_dir, g_get_prgname), and from libisofs.a's
 * aaip_0_2.o (ACL text to ids and back: vmspec writes no ACLs into its
 * seed images).  The link wraps the six
 * symbols (-Wl,--wrap=NAME sends GLib's calls to __wrap_NAME) so that any
 * lookup answers "no such entry" without touching NSS: GLib then falls
 * back to $HOME and the name "somebody".  In a dynamic link (STATIC=0)
 * these functions are simply unused.
 */
#include <grp.h>
#include <pwd.h>
#include <stddef.h>
#include <sys/types.h>

int __wrap_getpwnam_r(const char *name, struct passwd *pwd, char *buf,
                      size_t buflen, struct passwd **result);
int __wrap_getpwuid_r(uid_t uid, struct passwd *pwd, char *buf,
                      size_t buflen, struct passwd **result);
struct passwd *__wrap_getpwuid(uid_t uid);
struct passwd *__wrap_getpwnam(const char *name);
struct group *__wrap_getgrnam(const char *name);
struct group *__wrap_getgrgid(gid_t gid);

/* getpwnam_r(3): "If no matching record was found, these functions return
 * 0 and store NULL in *result." */
int __wrap_getpwnam_r(const char *name, struct passwd *pwd, char *buf,
                      size_t buflen, struct passwd **result)
{
    *result = NULL;
    return 0;
}

int __wrap_getpwuid_r(uid_t uid, struct passwd *pwd, char *buf,
                      size_t buflen, struct passwd **result)
{
    *result = NULL;
    return 0;
}

/* getpwuid(3): NULL when "the matching entry is not found". */
struct passwd *__wrap_getpwuid(uid_t uid)
{
    return NULL;
}

struct passwd *__wrap_getpwnam(const char *name)
{
    return NULL;
}

struct group *__wrap_getgrnam(const char *name)
{
    return NULL;
}

struct group *__wrap_getgrgid(gid_t gid)
{
    return NULL;
}
