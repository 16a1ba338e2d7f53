/*
 * machine/net/hostfwd: QEMU's hostfwd syntax with vmspec's defaults
 * (host 127.0.0.1, guest the DHCP address), and what is refused.
 */
#include <string.h>
#include <glib.h>

#include "machine/net/hostfwd.h"
#include "machine/qom/error.h"

static void test_parse(void)
{
    static const struct {
        const char *rule, *canonical;
    } good[] = {
        { "tcp:127.0.0.1:2222-:22", "tcp:127.0.0.1:2222-10.0.2.15:22" },
        { "tcp::2222-:22", "tcp:127.0.0.1:2222-10.0.2.15:22" },
        { "udp::5353-:53", "udp:127.0.0.1:5353-10.0.2.15:53" },
        { "tcp:0.0.0.0:8080-10.0.2.16:80", "tcp:0.0.0.0:8080-10.0.2.16:80" },
        { "tcp::65535-:1", "tcp:127.0.0.1:65535-10.0.2.15:1" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(good); i++) {
        g_autoptr(GError) err = NULL;
        g_autofree char *text = NULL;
        HostFwd fwd;

        g_assert_true(hostfwd_parse(good[i].rule, &fwd, &err));
        g_assert_no_error(err);
        text = hostfwd_format(&fwd);
        g_assert_cmpstr(text, ==, good[i].canonical);
    }
}

static void test_refused(void)
{
    static const char *const bad[] = {
        "", "tcp", "sctp::1-:2", "tcp:2222-:22", "tcp::2222:22", "tcp::0-:22",
        "tcp::65536-:22", "tcp::22-:", "tcp::-1-:22", "tcp:host:22-:22",
        "tcp::22-:22-:22", "tcp::+22-:22", "tcp::22x-:22", "TCP::22-:22",
        "tcp:::22-:22", "tcp::22-10.0.2:22",
    };

    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) err = NULL;
        HostFwd fwd;

        g_assert_false(hostfwd_parse(bad[i], &fwd, &err));
        g_assert_error(err, VMSPEC_ERROR, VMSPEC_ERROR_INVALID);
        g_assert_true(strstr(err->message, "is not a forward"));
    }
}

static void test_same_host_port(void)
{
    HostFwd a, b, c, d;

    g_assert_true(hostfwd_parse("tcp::2222-:22", &a, NULL));
    g_assert_true(hostfwd_parse("tcp:0.0.0.0:2222-:23", &b, NULL));
    g_assert_true(hostfwd_parse("udp::2222-:22", &c, NULL));
    g_assert_true(hostfwd_parse("tcp:127.0.0.2:2222-:22", &d, NULL));
    g_assert_true(hostfwd_same_host_port(&a, &b));     /* 0.0.0.0 takes all */
    g_assert_false(hostfwd_same_host_port(&a, &c));    /* other protocol */
    g_assert_false(hostfwd_same_host_port(&a, &d));    /* other address */
    g_assert_true(hostfwd_same_host_port(&b, &d));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/hostfwd/parse", test_parse);
    g_test_add_func("/hostfwd/refused", test_refused);
    g_test_add_func("/hostfwd/same-host-port", test_same_host_port);
    return g_test_run();
}
