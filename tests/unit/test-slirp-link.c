/*
 * libslirp links: build/slirp/$(ARCH)/libslirp.a, built by the Makefile
 * from Debian's 4.7.0 source, answers its version and creates and frees a
 * stack with QEMU's default user network (10.0.2.0/24).  Nothing is sent.
 */
#include <arpa/inet.h>
#include <glib.h>
#include <libslirp.h>

static ssize_t stub_send_packet(const void *buf, size_t len, void *opaque)
{
    return len;
}

static void stub_guest_error(const char *msg, void *opaque)
{
}

static int64_t stub_clock_get_ns(void *opaque)
{
    return g_get_monotonic_time() * 1000;
}

static void *stub_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
    return g_new0(char, 1);
}

static void stub_timer_free(void *timer, void *opaque)
{
    g_free(timer);
}

static void stub_timer_mod(void *timer, int64_t expire_time, void *opaque)
{
}

static void stub_register_poll_fd(int fd, void *opaque)
{
}

static void stub_unregister_poll_fd(int fd, void *opaque)
{
}

static void stub_notify(void *opaque)
{
}

static void test_version(void)
{
    g_assert_cmpstr(slirp_version_string(), ==, "4.7.0");
    g_assert_cmpstr(SLIRP_VERSION_STRING, ==, "4.7.0");
    g_assert_true(SLIRP_CHECK_VERSION(4, 7, 0));
    g_assert_false(SLIRP_CHECK_VERSION(4, 7, 1));
}

static struct in_addr addr(const char *s)
{
    struct in_addr a;

    g_assert_cmpint(inet_pton(AF_INET, s, &a), ==, 1);
    return a;
}

static void test_new_cleanup(void)
{
    static const SlirpCb cb = {
        .send_packet = stub_send_packet,
        .guest_error = stub_guest_error,
        .clock_get_ns = stub_clock_get_ns,
        .timer_new = stub_timer_new,
        .timer_free = stub_timer_free,
        .timer_mod = stub_timer_mod,
        .register_poll_fd = stub_register_poll_fd,
        .unregister_poll_fd = stub_unregister_poll_fd,
        .notify = stub_notify,
    };
    SlirpConfig cfg = {
        .version = 4,
        .in_enabled = true,
        .vnetwork = addr("10.0.2.0"),
        .vnetmask = addr("255.255.255.0"),
        .vhost = addr("10.0.2.2"),
        .vdhcp_start = addr("10.0.2.15"),
        .vnameserver = addr("10.0.2.3"),
    };
    Slirp *slirp = slirp_new(&cfg, &cb, NULL);

    g_assert_nonnull(slirp);
    slirp_cleanup(slirp);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/slirp/version", test_version);
    g_test_add_func("/slirp/new-cleanup", test_new_cleanup);
    return g_test_run();
}
