/*
 * libmicrohttpd front end. The access handler is called once with the
 * headers, then with each piece of the body, then once more with nothing:
 * vmdb answers on that last call (answering on the first call makes
 * 0.9.75 close keep-alive connections). Bodies are buffered up to
 * VMDB_MAX_BODY; the rest is read and dropped so that the client gets an
 * answer instead of a reset.
 *
 * Slow clients: at most per_ip_connections open connections per client
 * address (libmicrohttpd refuses more), and deadlines that a slow sender
 * cannot extend (see live_conn below).
 *
 * Threads: a few I/O threads (libmicrohttpd's poll pool; its epoll mode is
 * edge-triggered and in 0.9.75 can miss a client's EOF that arrives with
 * the last bytes of an incomplete request, leaving the connection open
 * until its deadline) read requests and send answers; they never wait on PostgreSQL or the writer.
 * A request that reaches the engine is suspended (MHD_suspend_connection) and handed to a small
 * pool of workers; a read runs there; a write is queued for its group commit and the worker goes on
 * with other work, so a connection waiting for its commit holds no thread. When the answer is ready
 * (or the write committed) the connection is resumed and an I/O thread sends it. An idle keep-alive
 * connection costs a socket and a few hundred bytes, not a thread. /health and /metrics answer on
 * the I/O thread, from memory, so they answer even while every worker waits on a frozen database.
 */
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "server/auth.h"
#include "server/metrics.h"
#include "server/render.h"
#include "server/server.h"
#include "util/log.h"
#include "util/sb.h"

/* One open connection. libmicrohttpd's connection timeout is an idle
 * timeout that every byte restarts, so a client sending a header byte every
 * few seconds would hold a connection (and one of the per-address slots)
 * for as long as it likes. So vmdb keeps its own deadlines: the request line
 * and headers within header_timeout_s of the connection opening (or of its
 * previous answer, on a kept-alive connection), and the body within
 * header_timeout_s + length / VMDB_HTTP_MIN_BODY_RATE after the headers.
 * There is none while a request is answered (a write may wait for its group
 * commit and anchor). A watchdog thread shuts down the socket of a
 * connection past its deadline; libmicrohttpd then sees the peer gone and
 * closes the connection from its own thread. Entries are unlinked (under
 * the lock) when libmicrohttpd reports the connection closed, which is
 * before it closes the socket, so the fd shut down is never a reused one. */
typedef struct conn_ctx conn_ctx;

typedef struct live_conn {
    struct live_conn *prev, *next;
    int fd;
    uint64_t deadline_us; /* monotonic; 0: none */
} live_conn;

struct vmdb_http {
    struct MHD_Daemon *d;
    pthread_mutex_t lk; /* guards conns and every deadline_us */
    pthread_cond_t cv;  /* wakes the watchdog to stop */
    pthread_t watchdog;
    bool watchdog_on, stopping, sync_init;
    live_conn *conns;
    uint64_t header_us; /* header timeout */
    vmdb_engine *e;
    char *swagger_dir;
    vmdb_auth *auth;
    vmdb_metrics *metrics;     /* the HTTP counters of GET /metrics */
    _Atomic uint64_t rid_next; /* generated request ids: a per-start prefix and a counter */
    uint32_t rid_prefix;
    /* The workers and their queue; wk_lk guards the queue and wk_stop.
     * `suspended` counts the connections suspended now, which must all be
     * resumed before the daemon stops. */
    pthread_mutex_t wk_lk;
    pthread_cond_t wk_cv;
    struct conn_ctx *wk_head, *wk_tail;
    bool wk_stop, wk_init;
    _Atomic unsigned suspended;
    pthread_t *workers;
    unsigned nworkers;
};

/* Where a request that runs on a worker is (conn_ctx.phase). */
enum {
    PH_NONE,     /* not handed off (answered on the I/O thread) */
    PH_START,    /* suspended: queued for a worker or running there */
    PH_BLOCKING, /* suspended: its write committed; a worker finishes it (anchor wait) */
    PH_FINISH,   /* resumed: its write committed; the I/O thread renders and sends it */
    PH_READY,    /* resumed: the answer is rendered */
};

struct conn_ctx {
    vmdb_buf body;
    bool too_big;
    bool admitted;      /* access holds the request's API key */
    vmdb_access access; /* what that key allows */
    int route;          /* metrics slot (server/metrics.h) */
    int status;         /* the answer's, once queued */
    uint64_t start_us;  /* monotonic, when the headers were read */
    char rid[65];       /* the request id */
    /* A request handed to the workers. */
    int phase;
    struct MHD_Connection *conn;
    struct vmdb_http *h;
    const vmdb_route *rt;
    char param[256]; /* the path parameter (dispatch has it on its stack) */
    vmdb_req req;
    vmdb_route_async as; /* wake: its write committed */
    vmdb_route_job *job; /* started, not yet finished */
    _Atomic int steps;   /* a pending write: the worker's return and the wake; the second goes on */
    vmdb_buf answer;     /* PH_READY */
    int answer_status;
    const char *answer_ctype;
    struct conn_ctx *qnext; /* the work queue */
};

/* The request this thread is answering: every answer is queued from the
 * thread that runs on_request, so the senders find it here. */
static _Thread_local conn_ctx *current;

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static live_conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Sets the deadline of c's connection to `after_us` from now (0: none). */
static void set_deadline(vmdb_http *h, struct MHD_Connection *c, uint64_t after_us)
{
    live_conn *lc = conn_of(c);
    if (!lc)
        return;
    pthread_mutex_lock(&h->lk);
    lc->deadline_us = after_us ? mono_us() + after_us : 0;
    pthread_mutex_unlock(&h->lk);
}

/* The body's deadline after its headers: the header timeout, plus the time
 * its length takes at VMDB_HTTP_MIN_BODY_RATE (a chunked body counts as
 * VMDB_MAX_BODY; larger bodies are read and dropped, up to 64 times that). */
static uint64_t body_allowance_us(const vmdb_http *h, struct MHD_Connection *c)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    uint64_t len = VMDB_MAX_BODY;
    if (v) {
        char *end = NULL;
        unsigned long long n = strtoull(v, &end, 10);
        len = end && end != v ? (uint64_t)n : 0;
    }
    if (len > 64 * (uint64_t)VMDB_MAX_BODY)
        len = 64 * (uint64_t)VMDB_MAX_BODY;
    return h->header_us + len * 1000000u / VMDB_HTTP_MIN_BODY_RATE;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    vmdb_http *h = cls;
    live_conn *lc = *socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        lc = calloc(1, sizeof *lc);
        if (!lc || !ci) {
            /* Without an entry the connection has only the idle timeout. */
            free(lc);
            LOG_WARN("http: a connection without a header deadline (out of memory)");
            return;
        }
        lc->fd = ci->connect_fd;
        pthread_mutex_lock(&h->lk);
        lc->deadline_us = mono_us() + h->header_us;
        lc->next = h->conns;
        if (h->conns)
            h->conns->prev = lc;
        h->conns = lc;
        pthread_mutex_unlock(&h->lk);
        *socket_context = lc;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && lc) {
        pthread_mutex_lock(&h->lk);
        if (lc->prev)
            lc->prev->next = lc->next;
        else
            h->conns = lc->next;
        if (lc->next)
            lc->next->prev = lc->prev;
        pthread_mutex_unlock(&h->lk);
        free(lc);
        *socket_context = NULL;
    }
}

/* Four times a second: shuts down the connections past their deadline. */
static void *watchdog_main(void *arg)
{
    vmdb_http *h = arg;
    pthread_mutex_lock(&h->lk);
    while (!h->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 250000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&h->cv, &h->lk, &ts);
        uint64_t now = mono_us();
        unsigned n = 0;
        for (live_conn *lc = h->conns; lc; lc = lc->next)
            if (lc->deadline_us && lc->deadline_us <= now) {
                shutdown(lc->fd, SHUT_RDWR);
                lc->deadline_us = 0;
                n++;
            }
        if (n) {
            /* Logged without the lock: locks never nest (ARCHITECTURE.md §3). */
            pthread_mutex_unlock(&h->lk);
            LOG_WARN("http: closed %u connection(s) whose request was not in by its deadline", n);
            pthread_mutex_lock(&h->lk);
        }
    }
    pthread_mutex_unlock(&h->lk);
    return NULL;
}

/* A client's X-Request-Id is kept when it is 1-64 of [A-Za-z0-9._-]
 * (safe in a header, a log line and JSON); otherwise one is made: a
 * per-process random prefix and a counter. */

static void request_id(vmdb_http *h, struct MHD_Connection *c, char rid[65])
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
    size_t n = v ? strlen(v) : 0;
    bool ok = n >= 1 && n <= 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
             (v[i] >= '0' && v[i] <= '9') || v[i] == '.' || v[i] == '_' || v[i] == '-';
    if (ok) {
        memcpy(rid, v, n + 1);
        return;
    }
    uint64_t k = atomic_fetch_add_explicit(&h->rid_next, 1, memory_order_relaxed);
    snprintf(rid, 65, "%08x-%012llx", h->rid_prefix, (unsigned long long)k);
}

/* Queues `r` with the headers every answer carries and notes its status
 * for the metrics. */
static enum MHD_Result queue(struct MHD_Connection *c, int status, struct MHD_Response *r)
{
    if (current) {
        MHD_add_response_header(r, "X-Request-Id", current->rid);
        current->status = status;
    }
    return MHD_queue_response(c, (unsigned)status, r);
}

static enum MHD_Result send_buf(struct MHD_Connection *c, int status, const char *ctype, void *data,
                                size_t len, const char *allow)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", ctype);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (status == 401)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"vmdb\"");
    if (allow)
        MHD_add_response_header(r, "Allow", allow);
    enum MHD_Result ret = queue(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Renders the envelope of `r` and queues it. */
static enum MHD_Result send_reply(struct MHD_Connection *c, const vmdb_reply *r, const char *allow)
{
    vmdb_buf out = VMDB_BUF_INIT;
    int status = 500;
    if (vmdb_render_envelope(&out, r, &status)) {
        vmdb_buf_free(&out);
        return MHD_NO;
    }
    return send_buf(c, status, "application/json", out.ptr, out.len, allow);
}

static enum MHD_Result send_error(struct MHD_Connection *c, vmdb_fail_kind kind, const char *msg,
                                  const char *allow)
{
    vmdb_reply r;
    memset(&r, 0, sizeof r);
    vmdb_fail_set(&r.fail, kind, "%s", msg);
    return send_reply(c, &r, allow);
}

static enum MHD_Result send_copy(struct MHD_Connection *c, const char *ctype, const void *p,
                                 size_t n)
{
    void *m = malloc(n ? n : 1);
    if (!m)
        return MHD_NO;
    memcpy(m, p, n);
    return send_buf(c, 200, ctype, m, n, NULL);
}

static const char swagger_index[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>vmdb API</title>"
    "<link rel=\"stylesheet\" href=\"/swagger-ui/swagger-ui.css\"></head><body>"
    "<div id=\"swagger-ui\"></div><script src=\"/swagger-ui/swagger-ui-bundle.js\"></script>"
    "<script src=\"/swagger-ui/swagger-ui-standalone-preset.js\"></script>"
    "<script>window.ui = SwaggerUIBundle({url: '/api-docs/openapi.json', dom_id: '#swagger-ui', "
    "presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: "
    "'StandaloneLayout'});"
    "</script></body></html>\n";

/* Serves one file of swagger-ui-dist: plain names only, no paths. */
static enum MHD_Result send_asset(struct MHD_Connection *c, const vmdb_http *h, const char *name)
{
    size_t n = strlen(name);
    bool ok = n > 0 && n < 100 && name[0] != '.';
    for (size_t i = 0; ok && i < n; i++)
        ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
             (name[i] >= '0' && name[i] <= '9') || name[i] == '.' || name[i] == '-' ||
             name[i] == '_';
    if (!ok)
        return send_error(c, VMDB_FAIL_ROUTE_NOT_FOUND, "Not found", NULL);
    vmdb_buf path = VMDB_BUF_INIT;
    if (vmdb_sb_printf(&path, "%s/%s", h->swagger_dir, name) || vmdb_sb_cstr(&path)) {
        vmdb_buf_free(&path);
        return MHD_NO;
    }
    int fd = open((const char *)path.ptr, O_RDONLY | O_CLOEXEC);
    vmdb_buf_free(&path);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return send_error(
            c, VMDB_FAIL_ROUTE_NOT_FOUND,
            "Not found (Swagger UI assets come from npm: run `npm ci` in the source tree)", NULL);
    }
    struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    const char *ct = "application/octet-stream";
    if (n > 3 && !strcmp(name + n - 3, ".js"))
        ct = "text/javascript; charset=utf-8";
    else if (n > 4 && !strcmp(name + n - 4, ".css"))
        ct = "text/css; charset=utf-8";
    else if (n > 5 && !strcmp(name + n - 5, ".html"))
        ct = "text/html; charset=utf-8";
    else if (n > 4 && !strcmp(name + n - 4, ".png"))
        ct = "image/png";
    else if (n > 4 && !strcmp(name + n - 4, ".map"))
        ct = "application/json";
    MHD_add_response_header(r, "Content-Type", ct);
    MHD_add_response_header(r, "Cache-Control", "max-age=3600");
    enum MHD_Result ret = queue(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

/* Test builds: X-Vmdb-Fault-Alloc: N fails the request arena's N-th
 * allocation, so that a test can walk every allocation failure of a route. */
static unsigned fault_alloc(struct MHD_Connection *c)
{
#ifdef VMDB_TEST_HOOKS
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Vmdb-Fault-Alloc");
    return v ? (unsigned)strtoul(v, NULL, 10) : 0;
#else
    (void)c;
    return 0;
#endif
}

static const char *query_arg(void *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
}

/* ---- the workers ---------------------------------------------------------------- */

static void work_push(vmdb_http *h, conn_ctx *cx)
{
    pthread_mutex_lock(&h->wk_lk);
    cx->qnext = NULL;
    if (h->wk_tail)
        h->wk_tail->qnext = cx;
    else
        h->wk_head = cx;
    h->wk_tail = cx;
    pthread_mutex_unlock(&h->wk_lk);
    /* Signalled after the lock is let go: the woken worker does not block
     * on it at once. */
    pthread_cond_signal(&h->wk_cv);
}

/* Gives the connection back to the I/O threads. cx belongs to them again
 * from here on. */
static void resume(vmdb_http *h, conn_ctx *cx, int phase)
{
    struct MHD_Connection *c = cx->conn;
    cx->phase = phase;
    MHD_resume_connection(c);
    atomic_fetch_sub(&h->suspended, 1); /* after: vmdb_http_stop waits for 0 */
}

/* A pending write goes on: rendered by an I/O thread, or, when it must wait
 * for its anchor, finished by a worker. Never blocks (the writer thread
 * calls it). */
static void write_goes_on(conn_ctx *cx)
{
    if (vmdb_route_finish_blocks(cx->job)) {
        cx->phase = PH_BLOCKING;
        work_push(cx->h, cx);
    } else {
        resume(cx->h, cx, PH_FINISH);
    }
}

/* The writer thread: cx's write committed (or failed). */
static void on_write_done(void *arg)
{
    conn_ctx *cx = arg;
    if (atomic_fetch_add(&cx->steps, 1) == 1)
        write_goes_on(cx);
}

static void finish_job(conn_ctx *cx)
{
    vmdb_buf out = VMDB_BUF_INIT;
    int status = 500;
    const char *ctype = "application/json";
    vmdb_route_job *j = cx->job;
    cx->job = NULL;
    if (vmdb_route_finish(j, &out, &status, &ctype) != 0) {
        vmdb_buf_free(&out);
        status = 0; /* nothing to send: the connection is dropped */
    }
    cx->answer = out;
    cx->answer_status = status;
    cx->answer_ctype = ctype;
}

static void work(conn_ctx *cx)
{
    vmdb_http *h = cx->h;
    vmdb_log_set_request_id(cx->rid);
    if (cx->phase == PH_BLOCKING) {
        finish_job(cx);
        resume(h, cx, PH_READY);
    } else if (vmdb_route_start(h->e, cx->rt, &cx->req, &cx->as, &cx->job) != 0) {
        cx->answer_status = 0;
        resume(h, cx, PH_READY);
    } else if (!vmdb_route_pending(cx->job)) {
        finish_job(cx);
        resume(h, cx, PH_READY);
    } else if (atomic_fetch_add(&cx->steps, 1) == 1) {
        write_goes_on(cx); /* committed before the worker got here */
    }
    vmdb_log_set_request_id(NULL);
}

static void *worker_main(void *arg)
{
    vmdb_http *h = arg;
    pthread_mutex_lock(&h->wk_lk);
    for (;;) {
        while (!h->wk_head && !h->wk_stop)
            pthread_cond_wait(&h->wk_cv, &h->wk_lk);
        conn_ctx *cx = h->wk_head;
        if (!cx)
            break;
        h->wk_head = cx->qnext;
        if (!h->wk_head)
            h->wk_tail = NULL;
        pthread_mutex_unlock(&h->wk_lk);
        work(cx);
        pthread_mutex_lock(&h->wk_lk);
    }
    pthread_mutex_unlock(&h->wk_lk);
    return NULL;
}

/* The request as the route reads it. */
static void build_req(vmdb_http *h, struct MHD_Connection *c, const char *method, const char *param,
                      const conn_ctx *cx, vmdb_req *req)
{
    *req = (vmdb_req){
        .method = method,
        .content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"),
        .body = cx->body.ptr ? cx->body.ptr : (const uint8_t *)"",
        .body_len = cx->body.len,
        .body_too_big = cx->too_big,
        .path_param = param,
        .fault_alloc = fault_alloc(c),
        .query = query_arg,
        .query_ctx = c,
        .access = cx->admitted ? &cx->access : NULL,
        .metrics = h->metrics,
        .client = (uint64_t)(uintptr_t)c,
    };
}

/* Runs a route on this thread and sends its answer. */
static enum MHD_Result run_inline(vmdb_http *h, struct MHD_Connection *c, const vmdb_route *rt,
                                  const char *method, const char *param, const conn_ctx *cx)
{
    vmdb_req req;
    build_req(h, c, method, param, cx, &req);
    vmdb_buf body = VMDB_BUF_INIT;
    int status = 500;
    const char *ctype = "application/json";
    if (vmdb_route_run(h->e, rt, &req, &body, &status, &ctype) != 0) {
        vmdb_buf_free(&body);
        return MHD_NO;
    }
    return send_buf(c, status, ctype, body.ptr, body.len, NULL);
}

/* Hands a route to the workers: the connection is suspended until its
 * answer is ready. Routes that answer from memory (vmdb_route.from_memory)
 * run here instead. */
static enum MHD_Result run(vmdb_http *h, struct MHD_Connection *c, const vmdb_route *rt,
                           const char *method, const char *param, conn_ctx *cx)
{
    if (!rt->from_memory) {
        cx->conn = c;
        cx->h = h;
        cx->rt = rt;
        cx->as = (vmdb_route_async){.wake = on_write_done, .arg = cx};
        atomic_store(&cx->steps, 0);
        size_t n = param ? strlen(param) : 0;
        if (n >= sizeof cx->param)
            n = sizeof cx->param - 1; /* dispatch's model names are shorter */
        if (param)
            memcpy(cx->param, param, n);
        cx->param[n] = 0;
        build_req(h, c, method, param ? cx->param : NULL, cx, &cx->req);
        cx->phase = PH_START;
        atomic_fetch_add(&h->suspended, 1);
        MHD_suspend_connection(c);
        work_push(h, cx);
        return MHD_YES;
    }
    return run_inline(h, c, rt, method, param, cx);
}

static bool is_get(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

/* API keys: refuses the request (401/403) before it is routed, or records
 * what its key allows in cx. MHD_YES: go on; otherwise *ret is the answer. */
static bool admit(vmdb_http *h, struct MHD_Connection *c, const char *url, const char *method,
                  conn_ctx *cx, enum MHD_Result *ret)
{
    char table[128];
    vmdb_reply r;
    if (!h->auth)
        return true;
    vmdb_role need = vmdb_auth_route_role(h->auth, url, method, table, sizeof table);
    if (need == VMDB_ROLE_NONE)
        return true;
    memset(&r, 0, sizeof r);
    const char *authz = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (vmdb_auth_check(h->auth, authz, need, table, &cx->access, &r.fail) == 0) {
        cx->admitted = true;
        return true;
    }
    *ret = send_reply(c, &r, NULL);
    return false;
}

static enum MHD_Result dispatch(vmdb_http *h, struct MHD_Connection *c, const char *url,
                                const char *method, conn_ctx *cx)
{
    const vmdb_route *match = NULL;
    char model[256];
    cx->route = VMDB_METRICS_ROUTE_NONE;
    enum MHD_Result refused = MHD_NO;
    if (!admit(h, c, url, method, cx, &refused))
        return refused;
    if (strncmp(url, "/swagger-ui/", 12) == 0) {
        cx->route = VMDB_METRICS_ROUTE_ASSET;
        if (!is_get(method))
            return send_error(c, VMDB_FAIL_METHOD_NOT_ALLOWED, "Method not allowed", "GET");
        if (url[12] == 0 || strcmp(url + 12, "index.html") == 0)
            return send_copy(c, "text/html; charset=utf-8", swagger_index,
                             sizeof swagger_index - 1);
        return send_asset(c, h, url + 12);
    }
    if (strncmp(url, "/api/roots/", 11) == 0 && strcmp(url, "/api/roots/latest") != 0 &&
        strcmp(url, "/api/roots/proof") != 0) {
        size_t ul = strlen(url);
        bool tr = ul > 22 && strcmp(url + ul - 11, "/transition") == 0;
        const vmdb_route *rt = tr ? &vmdb_route_transition : &vmdb_route_root_by_seq;
        cx->route = vmdb_metrics_route(rt);
        if (!is_get(method))
            return send_error(c, VMDB_FAIL_METHOD_NOT_ALLOWED, "Method not allowed", "GET");
        return run(h, c, rt, method, url + 11, cx);
    }
    if (strncmp(url, "/api/models/", 12) == 0) {
        const char *seg = url + 12, *slash = strchr(seg, '/');
        bool path_known = false;
        if (!slash || slash == seg || (size_t)(slash - seg) >= sizeof model)
            return send_error(c, VMDB_FAIL_ROUTE_NOT_FOUND, "Not found", NULL);
        memcpy(model, seg, (size_t)(slash - seg));
        model[slash - seg] = 0;
        for (size_t i = 0; i < vmdb_nroutes; i++)
            if (vmdb_routes[i].model && strcmp(slash + 1, vmdb_routes[i].path) == 0) {
                path_known = true;
                cx->route = vmdb_metrics_route(&vmdb_routes[i]);
                if (strcmp(method, vmdb_routes[i].method) == 0)
                    match = &vmdb_routes[i];
            }
        if (path_known && !match)
            return send_error(c, VMDB_FAIL_METHOD_NOT_ALLOWED, "Method not allowed", "POST");
        if (!match)
            return send_error(c, VMDB_FAIL_ROUTE_NOT_FOUND, "Not found", NULL);
        return run(h, c, match, method, model, cx);
    }
    for (size_t i = 0; i < vmdb_nroutes && !match; i++) {
        const vmdb_route *rt = &vmdb_routes[i];
        if (rt->model || strcmp(url, rt->path) != 0)
            continue;
        cx->route = vmdb_metrics_route(rt);
        if (strcmp(method, rt->method) != 0 && !(strcmp(rt->method, "GET") == 0 && is_get(method)))
            return send_error(c, VMDB_FAIL_METHOD_NOT_ALLOWED, "Method not allowed", rt->method);
        match = rt;
    }
    if (!match)
        return send_error(c, VMDB_FAIL_ROUTE_NOT_FOUND, "Not found", NULL);
    if (strcmp(match->path, "/api-docs/openapi.json") == 0)
        return send_copy(c, "application/json", vmdb_openapi_json, vmdb_openapi_json_len);
    if (strcmp(match->path, "/swagger-ui") == 0)
        return send_copy(c, "text/html; charset=utf-8", swagger_index, sizeof swagger_index - 1);
    return run(h, c, match, method, NULL, cx);
}

/* Counts the Content-Length and Transfer-Encoding header lines. */
static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    (void)value;
    unsigned *n = cls;
    if (key && strcasecmp(key, "Content-Length") == 0)
        n[0]++;
    else if (key && strcasecmp(key, "Transfer-Encoding") == 0)
        n[1]++;
    return MHD_YES;
}

/* A request whose body length is ambiguous: Content-Length together with
 * Transfer-Encoding (RFC 9112 §6.1: a request smuggling vector, since a
 * proxy in front may frame the body the other way), or Content-Length
 * more than once. libmicrohttpd 0.9.75 lets chunked win silently. */
static bool framing_ambiguous(struct MHD_Connection *c)
{
    unsigned n[2] = {0, 0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_framing, n);
    return (n[0] && n[1]) || n[0] > 1;
}

/* Answers 400 BAD_REQUEST and closes the connection: the rest of what the
 * client sent cannot be framed with confidence. */
static enum MHD_Result send_bad_framing(struct MHD_Connection *c)
{
    vmdb_reply rep;
    vmdb_buf out = VMDB_BUF_INIT;
    int status = 400;
    memset(&rep, 0, sizeof rep);
    vmdb_fail_set(&rep.fail, VMDB_FAIL_BAD_REQUEST,
                  "a request may not carry both Content-Length and Transfer-Encoding, nor "
                  "Content-Length twice");
    if (vmdb_render_envelope(&out, &rep, &status)) {
        vmdb_buf_free(&out);
        return MHD_NO;
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(out.len, out.ptr, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        vmdb_buf_free(&out);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Connection", "close");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    vmdb_http *h = cls;
    conn_ctx *cx = *con_cls;
    if (!cx) {
        cx = calloc(1, sizeof *cx);
        if (!cx)
            return MHD_NO;
        cx->body.max = VMDB_MAX_BODY;
        cx->start_us = mono_us();
        request_id(h, c, cx->rid);
        *con_cls = cx;
        set_deadline(h, c, body_allowance_us(h, c));
        /* Answered before any of the body is read. */
        if (framing_ambiguous(c))
            return send_bad_framing(c);
        return MHD_YES;
    }
    if (*upload_size) {
        if (!cx->too_big && vmdb_buf_put(&cx->body, upload, *upload_size) != 0) {
            cx->too_big = true;
            vmdb_buf_free(&cx->body);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (cx->phase == PH_START || cx->phase == PH_BLOCKING)
        return MHD_YES; /* not ours until resumed */
    set_deadline(h, c, 0);
    /* Log lines written while answering carry the request id. */
    current = cx;
    vmdb_log_set_request_id(cx->rid);
    cx->status = 0;
    enum MHD_Result ret = MHD_YES;
    if (cx->phase == PH_FINISH)
        finish_job(cx);
    if (cx->phase == PH_FINISH || cx->phase == PH_READY) {
        /* The answer a worker prepared (status 0: it could not be rendered). */
        cx->phase = PH_NONE;
        ret = cx->answer_status ? send_buf(c, cx->answer_status, cx->answer_ctype, cx->answer.ptr,
                                           cx->answer.len, NULL)
                                : MHD_NO;
        cx->answer = (vmdb_buf)VMDB_BUF_INIT;
    } else {
        ret = dispatch(h, c, url, method, cx);
    }
    if (cx->status)
        vmdb_metrics_request(h->metrics, cx->route, method, cx->status, mono_us() - cx->start_us);
    vmdb_log_set_request_id(NULL);
    current = NULL;
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    /* A kept-alive connection: the next request's headers are due. */
    set_deadline(cls, c, ((vmdb_http *)cls)->header_us);
    conn_ctx *cx = *con_cls;
    if (cx) {
        if (cx->job) { /* closed before its answer was sent */
            vmdb_buf lost = VMDB_BUF_INIT;
            int st = 0;
            const char *ct = NULL;
            vmdb_route_finish(cx->job, &lost, &st, &ct);
            vmdb_buf_free(&lost);
        }
        vmdb_buf_free(&cx->answer);
        vmdb_access_clear(&cx->access);
        vmdb_buf_free(&cx->body);
        free(cx);
        *con_cls = NULL;
    }
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = 0;
    LOG_WARN("http: %s", line);
}

/* The address of `listen` (host:port, an IPv6 host in brackets). */
static int resolve_listen(const char *listen, struct addrinfo **ai)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof host) {
        LOG_ERROR("VMDB_LISTEN must be host:port, got '%s'", listen);
        return VMDB_EINVAL;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = 0;
    char *hp = host;
    size_t hl = strlen(hp);
    if (hp[0] == '[' && hl > 2 && hp[hl - 1] == ']') {
        hp[hl - 1] = 0;
        hp++;
    }
    struct addrinfo hints = {0};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    int g = getaddrinfo(hp, colon + 1, &hints, ai);
    if (g != 0 || !*ai) {
        LOG_ERROR("VMDB_LISTEN '%s': %s", listen, gai_strerror(g));
        *ai = NULL;
        return VMDB_EINVAL;
    }
    return 0;
}

static void free_ai(struct addrinfo *ai)
{
    if (ai)
        freeaddrinfo(ai);
}

int vmdb_http_start(vmdb_http **out, const vmdb_http_config *cfg, vmdb_engine *e)
{
    *out = NULL;
    struct addrinfo *ai = NULL; /* NULL: no listening socket */
    if (cfg->listen && resolve_listen(cfg->listen, &ai) != 0)
        return VMDB_EINVAL;
    vmdb_http *h = calloc(1, sizeof *h);
    if (!h) {
        free_ai(ai);
        return VMDB_ENOMEM;
    }
    h->e = e;
    h->auth = cfg->auth;
    h->header_us = (uint64_t)(cfg->header_timeout_s ? cfg->header_timeout_s
                                                    : VMDB_HTTP_HEADER_TIMEOUT_DEFAULT) *
                   1000000u;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (pthread_mutex_init(&h->lk, NULL) != 0 || pthread_cond_init(&h->cv, &ca) != 0) {
        pthread_condattr_destroy(&ca);
        free_ai(ai);
        free(h);
        return VMDB_ENOMEM;
    }
    pthread_condattr_destroy(&ca);
    h->sync_init = true;
    /* Ids of separate runs differ (the log of several runs stays clear). */
    h->rid_prefix = (uint32_t)mono_us() ^ ((uint32_t)getpid() << 16) ^ (uint32_t)time(NULL);
    h->swagger_dir = strdup(cfg->swagger_dir ? cfg->swagger_dir : "node_modules/swagger-ui-dist");
    if (!h->swagger_dir || vmdb_metrics_new(&h->metrics) != 0) {
        free_ai(ai);
        vmdb_http_stop(h);
        return VMDB_ENOMEM;
    }
    /* The workers (see the top); more of them only lets more reads wait on
     * PostgreSQL at once. */
    h->nworkers = cfg->workers ? cfg->workers : VMDB_HTTP_WORKERS_DEFAULT;
    if (pthread_mutex_init(&h->wk_lk, NULL) != 0 || pthread_cond_init(&h->wk_cv, NULL) != 0 ||
        !(h->workers = calloc(h->nworkers, sizeof *h->workers))) {
        free_ai(ai);
        vmdb_http_stop(h);
        return VMDB_ENOMEM;
    }
    h->wk_init = true;
    for (unsigned i = 0; i < h->nworkers; i++)
        if (pthread_create(&h->workers[i], NULL, worker_main, h) != 0) {
            LOG_ERROR("cannot start the HTTP worker threads");
            h->nworkers = i;
            free_ai(ai);
            vmdb_http_stop(h);
            return VMDB_ENOMEM;
        }
    unsigned flags = MHD_USE_ERROR_LOG | (!ai                         ? MHD_USE_NO_LISTEN_SOCKET
                                          : ai->ai_family == AF_INET6 ? MHD_USE_IPv6
                                                                      : 0);
    /* HTTPS: the certificate comes from a callback rather than
     * MHD_OPTION_HTTPS_MEM_CERT, so that a reload reaches new handshakes
     * without restarting the daemon (tls.c). Plain HTTP: the list is empty. */
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_CERT_CALLBACK, 0, NULL},
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)vmdb_tls_priorities(cfg->tls_min)},
        {MHD_OPTION_END, 0, NULL},
    };
    if (cfg->tls) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES ||
            MHD_is_feature_supported(MHD_FEATURE_HTTPS_CERT_CALLBACK) != MHD_YES) {
            LOG_ERROR("VMDB_TLS_CERT: this libmicrohttpd was built without TLS support");
            free_ai(ai);
            vmdb_http_stop(h);
            return VMDB_EIO;
        }
        flags |= MHD_USE_TLS;
        tls_opts[0].ptr_value = (void *)vmdb_tls_install(cfg->tls);
    } else {
        tls_opts[0].option = MHD_OPTION_END;
    }
    /* Both modes: deadlines (live_conn) and the per-address cap. */
    struct MHD_OptionItem common_opts[] = {
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, h},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)cfg->per_ip_connections, NULL},
        {MHD_OPTION_SOCK_ADDR, 0, ai ? ai->ai_addr : NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    if (!ai)
        common_opts[2].option = MHD_OPTION_END;
    unsigned io = cfg->threads ? cfg->threads : VMDB_HTTP_THREADS_DEFAULT;
    h->d = MHD_start_daemon(
        flags | MHD_USE_POLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC, 0, NULL,
        NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h, MHD_OPTION_THREAD_POOL_SIZE,
        io, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)120, MHD_OPTION_CONNECTION_LIMIT, (unsigned)VMDB_HTTP_MAX_CONNECTIONS,
        MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_ARRAY, common_opts, MHD_OPTION_END);
    free_ai(ai);
    if (!h->d) {
        LOG_ERROR("cannot listen on %s", cfg->listen ? cfg->listen : "(no listening socket)");
        vmdb_http_stop(h);
        return VMDB_EIO;
    }
    if (pthread_create(&h->watchdog, NULL, watchdog_main, h) != 0) {
        LOG_ERROR("cannot start the HTTP deadline thread");
        vmdb_http_stop(h);
        return VMDB_ENOMEM;
    }
    h->watchdog_on = true;
    *out = h;
    return 0;
}

int vmdb_http_add_connection(vmdb_http *h, int fd, const struct sockaddr *addr, socklen_t addrlen)
{
    /* libmicrohttpd owns (and closes) the socket from here, even on failure. */
    return MHD_add_connection(h->d, fd, addr, addrlen) == MHD_YES ? 0 : VMDB_EIO;
}

void vmdb_http_stop(vmdb_http *h)
{
    if (!h)
        return;
    if (h->d) {
        /* No new connections; the suspended ones are finished by the
         * workers (the writer still runs) and resumed, since the daemon
         * may not stop with any suspended. */
        MHD_socket ls = MHD_quiesce_daemon(h->d);
        if (ls != MHD_INVALID_SOCKET)
            close(ls);
        while (atomic_load(&h->suspended)) {
            struct timespec ts = {0, 2 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        MHD_stop_daemon(h->d);
    }
    if (h->wk_init) {
        pthread_mutex_lock(&h->wk_lk);
        h->wk_stop = true;
        pthread_cond_broadcast(&h->wk_cv);
        pthread_mutex_unlock(&h->wk_lk);
        for (unsigned i = 0; i < h->nworkers; i++)
            pthread_join(h->workers[i], NULL);
        pthread_cond_destroy(&h->wk_cv);
        pthread_mutex_destroy(&h->wk_lk);
    }
    free(h->workers);
    if (h->watchdog_on) {
        pthread_mutex_lock(&h->lk);
        h->stopping = true;
        pthread_cond_signal(&h->cv);
        pthread_mutex_unlock(&h->lk);
        pthread_join(h->watchdog, NULL);
    }
    /* Connections are all closed now; entries libmicrohttpd did not report. */
    while (h->conns) {
        live_conn *lc = h->conns;
        h->conns = lc->next;
        free(lc);
    }
    if (h->sync_init) {
        pthread_cond_destroy(&h->cv);
        pthread_mutex_destroy(&h->lk);
    }
    vmdb_metrics_free(h->metrics);
    free(h->swagger_dir);
    free(h);
}
