/*
 * A user-mode network on libslirp (see user-net.h).
 *
 * libslirp is written for a poll(2) loop: each round the caller asks it
 * for the descriptors it wants (slirp_pollfds_fill, which also says how
 * soon its TCP timers need a round), polls them, and hands back what
 * happened (slirp_pollfds_poll); its other timers come through the
 * timer callbacks.  Here the round runs on the NIC's epoll I/O thread
 * instead: the descriptors slirp wants live in an epoll set of our own
 * (kept equal to the last fill), next to a timerfd armed for the earliest
 * of slirp's deadlines and an eventfd for kicks; that one epoll fd is what
 * the I/O thread watches.  user_net_dispatch() collects the ready events
 * without waiting, runs slirp's poll and its expired timers, and fills
 * again.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>

#include <libslirp.h>

#include "machine/backend/user-net.h"
#include "machine/qom/error.h"

/* Events collected per dispatch; more wait for the next one. */
#define USER_NET_MAX_EVENTS 64
/* The stack's own descriptors in the epoll set (data.u64 tags). */
#define TAG_TIMER  ((uint64_t)-1)
#define TAG_KICK   ((uint64_t)-2)

typedef struct UserNetTimer {
    SlirpTimerId id;
    void *cb_opaque;
    int64_t expire_ms;          /* -1: not armed */
} UserNetTimer;

typedef struct PollFd {
    int fd;
    int events;                 /* SLIRP_POLL_* asked for */
    int revents;                /* SLIRP_POLL_* seen */
} PollFd;

struct UserNet {
    GMutex lock;                /* one caller in the stack at a time */
    Slirp *slirp;
    UserNetReceive receive;
    void *opaque;

    int epoll_fd;
    int timer_fd;
    int kick_fd;
    GHashTable *watched;        /* fd -> epoll events, as in epoll_fd */
    GArray *pollfds;            /* PollFd: the last fill, by index */
    uint32_t slirp_timeout_ms;  /* the last fill's */
    int64_t armed_ms;           /* the timerfd's deadline, or -1 */
    bool stale;                 /* frames went in since the last fill */
    GPtrArray *timers;          /* UserNetTimer */
    GArray *forwards;           /* HostFwd, in the order added */
};

static int64_t clock_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- libslirp's callbacks (inside slirp calls, lock held) --------------- */

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
    UserNet *net = opaque;

    net->receive(net->opaque, buf, len);
    return (ssize_t)len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
    /* A malformed guest frame: dropped by slirp, as a wire would. */
}

static int64_t cb_clock_get_ns(void *opaque)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque,
                                 void *opaque)
{
    UserNet *net = opaque;
    UserNetTimer *t = g_new0(UserNetTimer, 1);

    t->id = id;
    t->cb_opaque = cb_opaque;
    t->expire_ms = -1;
    g_ptr_array_add(net->timers, t);
    return t;
}

static void cb_timer_free(void *timer, void *opaque)
{
    UserNet *net = opaque;

    g_ptr_array_remove_fast(net->timers, timer);
    g_free(timer);
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
    ((UserNetTimer *)timer)->expire_ms = expire_ms;
}

/* The set follows each fill; these two only say that a descriptor number
 * is a new socket or about to be closed, so that the next fill adds it
 * afresh rather than trusting an entry for a socket that had that number
 * before (close(2) drops it from the epoll set unseen). */
static void forget_fd(UserNet *net, int fd)
{
    epoll_ctl(net->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
    g_hash_table_remove(net->watched, GINT_TO_POINTER(fd));
}

static void cb_register_poll_fd(int fd, void *opaque)
{
    forget_fd(opaque, fd);
}

static void cb_unregister_poll_fd(int fd, void *opaque)
{
    forget_fd(opaque, fd);
}

/* Something may be ready without a descriptor saying so: run a round. */
static void cb_notify(void *opaque)
{
    UserNet *net = opaque;

    eventfd_write(net->kick_fd, 1);
}

static const SlirpCb user_net_callbacks = {
    .send_packet = cb_send_packet,
    .guest_error = cb_guest_error,
    .clock_get_ns = cb_clock_get_ns,
    .timer_free = cb_timer_free,
    .timer_mod = cb_timer_mod,
    .register_poll_fd = cb_register_poll_fd,
    .unregister_poll_fd = cb_unregister_poll_fd,
    .notify = cb_notify,
    .timer_new_opaque = cb_timer_new_opaque,
};

/* --- The poll round on epoll -------------------------------------------- */

static int add_poll(int fd, int events, void *opaque)
{
    UserNet *net = opaque;
    PollFd p = { .fd = fd, .events = events };

    g_array_append_val(net->pollfds, p);
    return (int)net->pollfds->len - 1;
}

static int get_revents(int idx, void *opaque)
{
    UserNet *net = opaque;

    if (idx < 0 || (guint)idx >= net->pollfds->len) {
        return 0;
    }
    return g_array_index(net->pollfds, PollFd, idx).revents;
}

static uint32_t epoll_events_of(int slirp_events)
{
    uint32_t ev = 0;

    if (slirp_events & SLIRP_POLL_IN) {
        ev |= EPOLLIN;
    }
    if (slirp_events & SLIRP_POLL_OUT) {
        ev |= EPOLLOUT;
    }
    if (slirp_events & SLIRP_POLL_PRI) {
        ev |= EPOLLPRI;
    }
    return ev;
}

static int slirp_events_of(uint32_t ev)
{
    return (ev & EPOLLIN ? SLIRP_POLL_IN : 0) |
           (ev & EPOLLOUT ? SLIRP_POLL_OUT : 0) |
           (ev & EPOLLPRI ? SLIRP_POLL_PRI : 0) |
           (ev & EPOLLERR ? SLIRP_POLL_ERR : 0) |
           (ev & EPOLLHUP ? SLIRP_POLL_HUP : 0);
}

/* Makes the epoll set what the fill asked for.  A descriptor slirp closed
 * left the set by itself (close(2) of the last reference), and its number
 * may be back as a new socket: a failed MOD is an ADD. */
static void sync_epoll_set(UserNet *net)
{
    g_autoptr(GHashTable) wanted = g_hash_table_new(NULL, NULL);
    GHashTableIter it;
    gpointer key, value;

    for (guint i = 0; i < net->pollfds->len; i++) {
        PollFd *p = &g_array_index(net->pollfds, PollFd, i);
        uint32_t ev = epoll_events_of(p->events) |
                      GPOINTER_TO_UINT(g_hash_table_lookup(
                          wanted, GINT_TO_POINTER(p->fd)));

        g_hash_table_insert(wanted, GINT_TO_POINTER(p->fd),
                            GUINT_TO_POINTER(ev));
    }
    g_hash_table_iter_init(&it, net->watched);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        if (!g_hash_table_contains(wanted, key)) {
            epoll_ctl(net->epoll_fd, EPOLL_CTL_DEL, GPOINTER_TO_INT(key),
                      NULL);
            g_hash_table_iter_remove(&it);
        }
    }
    g_hash_table_iter_init(&it, wanted);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        int fd = GPOINTER_TO_INT(key);
        struct epoll_event e = {
            .events = GPOINTER_TO_UINT(value),
            .data.u64 = (uint64_t)(unsigned)fd,
        };
        gpointer had;

        if (g_hash_table_lookup_extended(net->watched, key, NULL, &had)) {
            if (had == value ||
                epoll_ctl(net->epoll_fd, EPOLL_CTL_MOD, fd, &e) == 0) {
                continue;
            }
        }
        if (epoll_ctl(net->epoll_fd, EPOLL_CTL_ADD, fd, &e) < 0 &&
            errno == EEXIST) {
            epoll_ctl(net->epoll_fd, EPOLL_CTL_MOD, fd, &e);
        }
        g_hash_table_insert(net->watched, key, value);
    }
}

/* Arms the timerfd for the earliest deadline: slirp's TCP timers (the
 * fill's timeout) and its armed timers. */
static void arm_timer(UserNet *net)
{
    int64_t now = clock_ms();
    int64_t due = now + net->slirp_timeout_ms;
    struct itimerspec its = { 0 };

    for (guint i = 0; i < net->timers->len; i++) {
        UserNetTimer *t = net->timers->pdata[i];

        if (t->expire_ms >= 0 && t->expire_ms < due) {
            due = t->expire_ms;
        }
    }
    if (due <= now) {
        due = now + 1;      /* 0 would disarm it */
    }
    if (due == net->armed_ms) {
        return;             /* one timerfd_settime(2) fewer a round */
    }
    net->armed_ms = due;
    its.it_value.tv_sec = due / 1000;
    its.it_value.tv_nsec = (due % 1000) * 1000000;
    timerfd_settime(net->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* A new round: what slirp wants now, in the epoll set and the timer. */
static void fill(UserNet *net)
{
    net->stale = false;
    g_array_set_size(net->pollfds, 0);
    net->slirp_timeout_ms = 1000;
    slirp_pollfds_fill(net->slirp, &net->slirp_timeout_ms, add_poll, net);
    sync_epoll_set(net);
    arm_timer(net);
}

static void run_timers(UserNet *net)
{
    int64_t now = clock_ms();

    /* A handler may free or add timers: look again after each. */
    for (bool ran = true; ran;) {
        ran = false;
        for (guint i = 0; i < net->timers->len; i++) {
            UserNetTimer *t = net->timers->pdata[i];

            if (t->expire_ms >= 0 && t->expire_ms <= now) {
                t->expire_ms = -1;
                slirp_handle_timer(net->slirp, t->id, t->cb_opaque);
                ran = true;
                break;
            }
        }
    }
}

void user_net_dispatch(UserNet *net)
{
    struct epoll_event ev[USER_NET_MAX_EVENTS];
    g_autoptr(GHashTable) revents = g_hash_table_new(NULL, NULL);
    uint64_t drain;
    int n;

    g_mutex_lock(&net->lock);
    n = epoll_wait(net->epoll_fd, ev, USER_NET_MAX_EVENTS, 0);
    for (int i = 0; i < n; i++) {
        if (ev[i].data.u64 == TAG_TIMER) {
            if (read(net->timer_fd, &drain, sizeof(drain)) < 0) {
                /* EAGAIN: already drained */
            }
            net->armed_ms = -1;
        } else if (ev[i].data.u64 == TAG_KICK) {
            eventfd_read(net->kick_fd, &drain);
        } else {
            g_hash_table_insert(revents,
                                GINT_TO_POINTER((int)ev[i].data.u64),
                                GUINT_TO_POINTER(ev[i].events));
        }
    }
    for (guint i = 0; i < net->pollfds->len; i++) {
        PollFd *p = &g_array_index(net->pollfds, PollFd, i);

        p->revents = slirp_events_of(GPOINTER_TO_UINT(g_hash_table_lookup(
            revents, GINT_TO_POINTER(p->fd)))) &
            (p->events | SLIRP_POLL_ERR | SLIRP_POLL_HUP);
    }
    slirp_pollfds_poll(net->slirp, n < 0, get_revents, net);
    run_timers(net);
    fill(net);
    g_mutex_unlock(&net->lock);
}

void user_net_input(UserNet *net, const uint8_t *frame, size_t len)
{
    if (len > INT32_MAX) {
        return;
    }
    g_mutex_lock(&net->lock);
    slirp_input(net->slirp, frame, (int)len);
    /* The frame may have opened a socket or queued data to write: the
     * next user_net_flush() fills again, once for a batch. */
    net->stale = true;
    g_mutex_unlock(&net->lock);
}

void user_net_flush(UserNet *net)
{
    g_mutex_lock(&net->lock);
    if (net->stale) {
        fill(net);
    }
    g_mutex_unlock(&net->lock);
}

int user_net_fd(UserNet *net)
{
    return net->epoll_fd;
}

/* --- Forwards ----------------------------------------------------------- */

static gint find_forward(UserNet *net, const HostFwd *fwd)
{
    for (guint i = 0; i < net->forwards->len; i++) {
        const HostFwd *f = &g_array_index(net->forwards, HostFwd, i);

        if (f->udp == fwd->udp && f->host_port == fwd->host_port &&
            f->host_addr.s_addr == fwd->host_addr.s_addr) {
            return (gint)i;
        }
    }
    return -1;
}

bool user_net_add_forward(UserNet *net, const HostFwd *fwd, GError **errp)
{
    char host[INET_ADDRSTRLEN];
    bool ok = true;

    inet_ntop(AF_INET, &fwd->host_addr, host, sizeof(host));
    g_mutex_lock(&net->lock);
    for (guint i = 0; i < net->forwards->len; i++) {
        if (hostfwd_same_host_port(&g_array_index(net->forwards, HostFwd, i),
                                   fwd)) {
            g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_BUSY,
                        "%s:%u (%s) is forwarded already", host,
                        fwd->host_port, fwd->udp ? "udp" : "tcp");
            ok = false;
            goto out;
        }
    }
    errno = 0;
    if (slirp_add_hostfwd(net->slirp, fwd->udp, fwd->host_addr,
                          fwd->host_port, fwd->guest_addr,
                          fwd->guest_port) < 0) {
        int err = errno ? errno : EADDRINUSE;

        g_set_error(errp, VMSPEC_ERROR, err == EADDRINUSE ? VMSPEC_ERROR_BUSY
                                                          : VMSPEC_ERROR_IO,
                    "cannot listen on %s:%u (%s): %s", host, fwd->host_port,
                    fwd->udp ? "udp" : "tcp", g_strerror(err));
        ok = false;
        goto out;
    }
    g_array_append_val(net->forwards, *fwd);
    fill(net);
out:
    g_mutex_unlock(&net->lock);
    return ok;
}

bool user_net_remove_forward(UserNet *net, const HostFwd *fwd,
                             GError **errp)
{
    gint i;

    g_mutex_lock(&net->lock);
    i = find_forward(net, fwd);
    if (i < 0 || slirp_remove_hostfwd(net->slirp, fwd->udp, fwd->host_addr,
                                      fwd->host_port) < 0) {
        g_autofree char *rule = hostfwd_format(fwd);

        g_mutex_unlock(&net->lock);
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_NOT_FOUND,
                    "no forward from %s", rule);
        return false;
    }
    g_array_remove_index(net->forwards, (guint)i);
    fill(net);
    g_mutex_unlock(&net->lock);
    return true;
}

char **user_net_list_forwards(UserNet *net)
{
    GPtrArray *out = g_ptr_array_new();

    g_mutex_lock(&net->lock);
    for (guint i = 0; i < net->forwards->len; i++) {
        g_ptr_array_add(out, hostfwd_format(
            &g_array_index(net->forwards, HostFwd, i)));
    }
    g_mutex_unlock(&net->lock);
    g_ptr_array_add(out, NULL);
    return (char **)g_ptr_array_free(out, false);
}

/* --- Life --------------------------------------------------------------- */

static bool watch_own(UserNet *net, int fd, uint64_t tag, GError **errp)
{
    struct epoll_event e = { .events = EPOLLIN, .data.u64 = tag };

    if (epoll_ctl(net->epoll_fd, EPOLL_CTL_ADD, fd, &e) < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "user-mode network: epoll: %s", g_strerror(errno));
        return false;
    }
    return true;
}

UserNet *user_net_new(const UserNetConfig *cfg, UserNetReceive receive,
                      void *opaque, GError **errp)
{
    UserNet *net = g_new0(UserNet, 1);
    SlirpConfig sc = {
        .version = 4,
        .restricted = cfg->restrict_out,
        .in_enabled = true,
        .disable_host_loopback = !cfg->host_loopback,
    };

    g_mutex_init(&net->lock);
    net->receive = receive;
    net->opaque = opaque;
    net->watched = g_hash_table_new(NULL, NULL);
    net->pollfds = g_array_new(false, false, sizeof(PollFd));
    net->timers = g_ptr_array_new();
    net->forwards = g_array_new(false, false, sizeof(HostFwd));
    net->timer_fd = net->kick_fd = -1;
    net->armed_ms = -1;
    net->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    net->timer_fd = timerfd_create(CLOCK_MONOTONIC,
                                   TFD_NONBLOCK | TFD_CLOEXEC);
    net->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (net->epoll_fd < 0 || net->timer_fd < 0 || net->kick_fd < 0) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "user-mode network: %s", g_strerror(errno));
        user_net_free(net);
        return NULL;
    }
    if (!watch_own(net, net->timer_fd, TAG_TIMER, errp) ||
        !watch_own(net, net->kick_fd, TAG_KICK, errp)) {
        user_net_free(net);
        return NULL;
    }
    inet_pton(AF_INET, USER_NET_NETWORK, &sc.vnetwork);
    inet_pton(AF_INET, USER_NET_NETMASK, &sc.vnetmask);
    inet_pton(AF_INET, USER_NET_HOST, &sc.vhost);
    inet_pton(AF_INET, HOSTFWD_GUEST_DEFAULT, &sc.vdhcp_start);
    inet_pton(AF_INET, USER_NET_DNS, &sc.vnameserver);
    net->slirp = slirp_new(&sc, &user_net_callbacks, net);
    if (!net->slirp) {
        g_set_error(errp, VMSPEC_ERROR, VMSPEC_ERROR_IO,
                    "user-mode network: libslirp refused its configuration");
        user_net_free(net);
        return NULL;
    }
    g_mutex_lock(&net->lock);
    fill(net);
    g_mutex_unlock(&net->lock);
    return net;
}

void user_net_free(UserNet *net)
{
    if (!net) {
        return;
    }
    if (net->slirp) {
        slirp_cleanup(net->slirp);      /* frees its timers through us */
    }
    for (guint i = 0; i < net->timers->len; i++) {
        g_free(net->timers->pdata[i]);
    }
    g_ptr_array_unref(net->timers);
    g_array_unref(net->forwards);
    g_array_unref(net->pollfds);
    g_hash_table_unref(net->watched);
    if (net->kick_fd >= 0) {
        close(net->kick_fd);
    }
    if (net->timer_fd >= 0) {
        close(net->timer_fd);
    }
    if (net->epoll_fd >= 0) {
        close(net->epoll_fd);
    }
    g_mutex_clear(&net->lock);
    g_free(net);
}
