/*
 * Fuzz target for the HTTP request path: the raw bytes of one or more
 * requests go through libmicrohttpd's parser and vmdb's own request
 * handling in src/server/http.c, the real server (not a copy of it):
 * framing checks (Content-Length with Transfer-Encoding, Content-Length
 * twice), request ids, the header and body deadlines, the body cap, API
 * keys (the Authorization header, route roles, table scopes), routing and
 * the path's parameter, suspension to the route workers and resumption,
 * and the route's JSON body. The server is started once per process with
 * no engine and no listening socket (vmdb_http_start with e NULL and
 * listen NULL): each input is a fresh loopback TCP connection handed over with
 * vmdb_http_add_connection; the target writes the input, shuts down its
 * sending side once the server is quiet, and reads the answers until the
 * server closes (at most WAIT_MS). Routes then answer 503 where they would call the engine.
 *
 * The keys file holds four keys with known texts (see KEY_*), so that the
 * corpus can carry valid keys: read, write, admin, and read scoped to the
 * table "things". Properties checked: the server never answers 500 (an
 * internal error), every answer starts with an HTTP/1 status line, and
 * nothing leaks or crashes under ASan/UBSan.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server/auth.h"
#include "server/server.h"
#include "trust/apikeys.h"
#include "trust/identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* How long one input may take before the target gives up on the answer (a
 * request the server is still waiting on: its header deadline closes it). */
#define WAIT_MS 3000
/* The server's silence after the whole input that ends the input. */
#define QUIET_MS 5

/* The keys' texts: ids 00000001..4, each secret 32 zero bytes. */
#define SECRET0 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
/* KEY_READ "vmdb_00000001_" SECRET0, KEY_WRITE 00000002, KEY_ADMIN
 * 00000003, KEY_THINGS 00000004 (read, table "things"). */

static vmdb_http *srv;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_http: property violated: %s\n", what);
        abort();
    }
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Writes the keys file (signed with a fixed identity) into a fresh
 * directory and opens it as the server's keys. */
static vmdb_auth *make_auth(void)
{
    static char dir[] = "/tmp/vmdb-fuzz-http-XXXXXX";
    char path[sizeof dir + 32];
    vmdb_identity id;
    uint8_t seed[32] = {7};
    memset(&id, 0, sizeof id);
    check(sodium_init() >= 0, "sodium");
    check(crypto_sign_seed_keypair(id.pk, id.sk, seed) == 0, "identity");
    check(mkdtemp(dir) != NULL, "temporary directory");
    snprintf(path, sizeof path, "%s/api_keys.json", dir);

    static const char *things[] = {"things"};
    static const vmdb_role roles[] = {VMDB_ROLE_READ, VMDB_ROLE_WRITE, VMDB_ROLE_ADMIN,
                                      VMDB_ROLE_READ};
    vmdb_apikey keys[4];
    uint8_t zero[32] = {0};
    memset(keys, 0, sizeof keys);
    for (int i = 0; i < 4; i++) {
        memcpy(keys[i].id, "0000000", 7);
        keys[i].id[7] = (char)('1' + i);
        keys[i].role = roles[i];
        crypto_hash_sha256(keys[i].hash, zero, sizeof zero);
        keys[i].created_ms = 1;
    }
    keys[3].tables = (char **)things;
    keys[3].ntables = 1;
    vmdb_apikeys set = {keys, 4};
    check(vmdb_apikeys_save(path, &set, &id) == 0, "keys file");

    vmdb_auth *a = NULL;
    vmdb_auth_config ac = {.path = path, .protect_health = false, .protect_metrics = true};
    memcpy(ac.pk, id.pk, sizeof ac.pk);
    check(vmdb_auth_open(&a, &ac) == 0, "keys");
    /* The check is against the file's text: a valid key must be accepted. */
    vmdb_access acc;
    vmdb_fail f;
    memset(&f, 0, sizeof f);
    check(vmdb_auth_check(a, "Bearer vmdb_00000003_" SECRET0, VMDB_ROLE_ADMIN, NULL, &acc, &f) == 0,
          "the admin key is accepted");
    vmdb_access_clear(&acc);
    return a;
}

static void start(void)
{
    signal(SIGPIPE, SIG_IGN);
    vmdb_http_config cfg = {
        .listen = NULL,
        .threads = 2,
        .workers = 2,
        .swagger_dir = "/nonexistent",
        .auth = make_auth(),
        .per_ip_connections = 0,
        .header_timeout_s = 2,
    };
    check(vmdb_http_start(&srv, &cfg, NULL) == 0, "server");
}

/* Checks the first answer's status line (later ones may be cut short). */
static void check_answer(const char *a, size_t n)
{
    if (n == 0)
        return; /* closed without an answer (e.g. a request cut off by EOF) */
    check(n >= 12 && memcmp(a, "HTTP/1.", 7) == 0, "an HTTP/1 status line");
    check(memcmp(a + 8, " 500", 4) != 0, "no internal error");
}

/* A loopback TCP listener of the target's own: each input's connection is
 * made through it (a socketpair would do, but libmicrohttpd then warns
 * about TCP options on every connection). */
static int lsock = -1;

static void listen_loopback(void)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lsock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    check(lsock >= 0 && bind(lsock, (struct sockaddr *)&a, sizeof a) == 0 &&
              listen(lsock, 16) == 0 && getsockname(lsock, (struct sockaddr *)&a, &alen) == 0,
          "loopback listener");
}

/* A connected pair: *client (ours) and *server (for the server). */
static int connect_pair(int *client, int *server, struct sockaddr_in *peer)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    *client = *server = -1;
    if (getsockname(lsock, (struct sockaddr *)&a, &alen) != 0)
        return -1;
    *client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (*client < 0 || connect(*client, (struct sockaddr *)&a, sizeof a) != 0)
        goto fail;
    alen = sizeof *peer;
    *server = accept4(lsock, (struct sockaddr *)peer, &alen, SOCK_CLOEXEC);
    if (*server < 0)
        goto fail;
    /* Closed with a reset: no TIME_WAIT piles up over a long run. */
    struct linger lg = {1, 0};
    setsockopt(*client, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    fcntl(*client, F_SETFL, fcntl(*client, F_GETFL) | O_NONBLOCK);
    return 0;
fail:
    if (*client >= 0)
        close(*client);
    *client = -1;
    return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!srv) {
        start();
        listen_loopback();
    }
    int cs = -1, ss = -1;
    struct sockaddr_in peer;
    if (connect_pair(&cs, &ss, &peer) != 0)
        return 0;
    if (vmdb_http_add_connection(srv, ss, (const struct sockaddr *)&peer, sizeof peer) != 0) {
        close(cs);
        return 0;
    }
    /* Writes and reads interleaved: a large input with an early answer must
     * not fill both directions' buffers. The sending side is shut down once
     * the server has been quiet for QUIET_MS after the whole input: earlier,
     * libmicrohttpd drops a request still running on a worker when it sees
     * the end of the input. */
    static char ans[1 << 16];
    size_t sent = 0, got = 0;
    bool wr_open = true;
    uint64_t until = now_ms() + WAIT_MS;
    for (;;) {
        uint64_t now = now_ms();
        if (now >= until)
            break;
        short ev = (short)(POLLIN | (wr_open && sent < size ? POLLOUT : 0));
        int wait = (int)(until - now);
        if (wr_open && sent == size)
            wait = QUIET_MS;
        struct pollfd p = {cs, ev, 0};
        int n = poll(&p, 1, wait);
        if (n == 0 && wr_open && sent == size) {
            shutdown(cs, SHUT_WR);
            wr_open = false;
            continue;
        }
        if (n <= 0)
            continue;
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            char sink[4096];
            char *dst = got < sizeof ans ? ans + got : sink;
            size_t room = got < sizeof ans ? sizeof ans - got : sizeof sink;
            ssize_t r = recv(cs, dst, room, 0);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
                break; /* the server closed (or reset) the connection */
            if (r > 0 && dst == ans + got)
                got += (size_t)r;
        }
        if (wr_open && sent < size && (p.revents & POLLOUT)) {
            ssize_t w = send(cs, data + sent, size - sent, MSG_NOSIGNAL);
            if (w > 0) {
                sent += (size_t)w;
            } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                shutdown(cs, SHUT_WR); /* the server stopped reading */
                wr_open = false;
            }
        }
    }
    close(cs);
    if (getenv("FUZZ_HTTP_ECHO")) /* shows what the server answered */
        fprintf(stderr, "---- %zu bytes in, %zu out:\n%.*s\n", size, got,
                (int)(got < 600 ? got : 600), ans);
    check_answer(ans, got);
    return 0;
}
