/*
 * The HTTP side of vmdb serve: libmicrohttpd with a few I/O threads and a
 * pool of workers (connections suspended while their request runs),
 * request bodies buffered under a hard cap, routing (http.c);
 * the route handlers that check requests and call the engine (handlers.c);
 * and the rendering of typed results into the seed's JSON envelope
 * (render.c). The only part of vmdb that knows HTTP statuses or builds
 * response JSON; knows nothing of SQL.
 */
#ifndef VMDB_SERVER_SERVER_H
#define VMDB_SERVER_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "server/tls.h"
#include "store/engine.h"
#include "util/arena.h"
#include "vmdb/json.h"

#define VMDB_MAX_BODY ((size_t)2 << 20) /* the seed's 2 MiB limit */
#define VMDB_MAX_IDS 1000

typedef struct vmdb_http vmdb_http;
typedef struct vmdb_auth vmdb_auth;
struct vmdb_access;

/* Open connections at most; more wait in the listen backlog. */
#define VMDB_HTTP_MAX_CONNECTIONS 1024
#define VMDB_HTTP_HEADER_TIMEOUT_DEFAULT 10
/* I/O threads (parsing, TLS, sending) and route workers (see http.c). */
#define VMDB_HTTP_THREADS_DEFAULT 2
#define VMDB_HTTP_WORKERS_DEFAULT 16
/* A body must arrive at least this fast (bytes/s) after its headers, on
 * top of the header timeout, or the connection is closed. */
#define VMDB_HTTP_MIN_BODY_RATE 16384

typedef struct vmdb_http_config {
    const char *listen;      /* host:port; NULL: no listening socket (vmdb_http_add_connection) */
    unsigned threads;        /* I/O threads (0: VMDB_HTTP_THREADS_DEFAULT) */
    unsigned workers;        /* threads that run routes (0: VMDB_HTTP_WORKERS_DEFAULT) */
    const char *swagger_dir; /* swagger-ui-dist directory (may not exist) */
    vmdb_tls *tls;           /* NULL: plain HTTP; else HTTPS with its certificate (not owned) */
    vmdb_tls_min tls_min;    /* the lowest TLS version accepted */
    vmdb_auth *auth;         /* API keys (server/auth.h); NULL: every route is open */

    /* Slow and greedy clients (http.c, live_conn). Open connections per
     * client address, 0: no cap; the seconds a request line and headers may
     * take from the connection's start or previous answer, 0: the default. */
    unsigned per_ip_connections;
    unsigned header_timeout_s;
} vmdb_http_config;

/* Starts serving. `e` NULL: no engine (fuzz/fuzz_http.c): everything
 * before a route's handler runs for real (framing, deadlines, request ids,
 * body cap, API keys, routing, the path's parameter, the body's JSON), and
 * each route then answers 503 DB_UNAVAILABLE. Errors: VMDB_EINVAL (bad
 * listen address), VMDB_EIO (cannot bind; or TLS asked for and this
 * libmicrohttpd has no TLS), VMDB_ENOMEM. */
int vmdb_http_start(vmdb_http **out, const vmdb_http_config *cfg, vmdb_engine *e);
/* Hands an open, connected socket to the server as if it had accepted it
 * (`addr` is the client's address); the server owns and closes it from
 * here, even on failure. 0 or VMDB_EIO. */
int vmdb_http_add_connection(vmdb_http *h, int fd, const struct sockaddr *addr, socklen_t addrlen);
/* Stops accepting, finishes running requests and frees (accepts NULL). */
void vmdb_http_stop(vmdb_http *h);

/* ---- routes (handlers.c) --------------------------------------------------- */

typedef struct vmdb_req {
    const char *method;
    const char *content_type; /* may be NULL */
    const uint8_t *body;
    size_t body_len;
    bool body_too_big;
    const char *path_param; /* the path's {model} or {seq} segment; NULL for other routes */
    unsigned fault_alloc;   /* test builds: fail the request arena's n-th allocation */
    /* The query string's argument `name` (NULL: absent). */
    const char *(*query)(void *query_ctx, const char *name);
    void *query_ctx;
    /* What the request's API key allows (server/auth.h); NULL: no keys. */
    const struct vmdb_access *access;
    struct vmdb_metrics *metrics; /* the server's HTTP counters (server/metrics.h) */
    uint64_t client;              /* the connection, as writes name it (vmdb_write.client) */
} vmdb_req;

/* What a route answers: a failure, or `data` (the envelope's data, or the
 * whole body when `bare`). */
typedef struct vmdb_reply {
    vmdb_fail fail;
    vmdb_buf data;
    bool bare;
    const char *content_type; /* a bare success's media type; NULL: application/json */
} vmdb_reply;

/* What every handler gets, prepared by vmdb_route_start from the route's
 * needs and released by vmdb_route_finish (vmdb_route_run does both). */
typedef struct vmdb_route_ctx {
    vmdb_engine *e;
    struct vmdb_metrics *metrics; /* the server's HTTP counters (GET /metrics) */
    const vmdb_req *req;
    vmdb_arena ar;           /* request-scoped: results and parsed input live here */
    vmdb_registry *reg;      /* routes under /api/models/{model}/ */
    const vmdb_model *model; /* likewise */
    vmdb_json_doc *doc;      /* routes with a JSON body */
    const vmdb_json *body;   /* its root */
    /* Asynchronous writes (vmdb_route_start with a wake function): a write
     * handler queues its write and returns 0 with `pending` set; the answer
     * is rendered by vmdb_route_finish once the group committed. */
    const struct vmdb_route_async *async;
    struct {
        bool on;
        vmdb_wkind kind;
        vmdb_write_result *res;
        vmdb_write_ticket *ticket;
    } pending;
} vmdb_route_ctx;

/* Fills `out` (data or fail). The return value is 0 or the failure's
 * vmdb_err, per store/result.h's contract. */
typedef int (*vmdb_handler)(vmdb_route_ctx *c, vmdb_reply *out);

/* How a route's body is read before its handler runs. */
typedef enum vmdb_body_mode {
    VMDB_BODY_NONE,    /* no body (GET) */
    VMDB_BODY_JSON,    /* JSON; a wrong content type, size or syntax is the seed's 422 */
    VMDB_BODY_EXECUTE, /* JSON; 415, 413 and 400 as POST /api/execute answers them */
} vmdb_body_mode;

typedef struct vmdb_route {
    const char *path; /* exact path, or the action under /api/models/{model}/ */
    bool model;       /* under /api/models/{model}/: the model is resolved first */
    const char *method;
    vmdb_body_mode body;
    const char *hint; /* the "(expected: ...)" of the 422 text; NULL: none */
    vmdb_handler handler;
    /* Answers from memory, never waiting on PostgreSQL or the writer: run
     * on the I/O thread, so it answers while every worker waits. */
    bool from_memory;
} vmdb_route;

extern const vmdb_route vmdb_routes[];
extern const size_t vmdb_nroutes;
/* GET /api/roots/{seq}: matched by prefix. */
extern const vmdb_route vmdb_route_root_by_seq;
extern const vmdb_route vmdb_route_transition; /* /api/roots/{seq}/transition */

/* Prepares the route's context (request arena, model, body), runs its
 * handler, renders the answer into `body` with its HTTP status and media
 * type (*ctype, a static string), and
 * releases the context. 0, or VMDB_ENOMEM / VMDB_ELIMIT when even the
 * envelope could not be rendered (the connection is then dropped). */
int vmdb_route_run(vmdb_engine *e, const vmdb_route *rt, const vmdb_req *req, vmdb_buf *body,
                   int *status, const char **ctype);

/* A route run in two steps, so that no thread waits for a group commit.
 * `wake(arg)` is called once, on the writer thread, when a write the route
 * queued is done; it must not block. */
typedef struct vmdb_route_async {
    void (*wake)(void *arg);
    void *arg;
} vmdb_route_async;
typedef struct vmdb_route_job vmdb_route_job;

/* Prepares the context and runs the handler, as vmdb_route_run does, but
 * with `as`, a write does not wait: *job is then pending and as->wake will
 * be called. *job is the caller's: vmdb_route_finish renders it and frees
 * it. `req` is copied; what it points to (body, query context) must stay
 * valid until then. VMDB_ENOMEM (no job). */
int vmdb_route_start(vmdb_engine *e, const vmdb_route *rt, const vmdb_req *req,
                     const vmdb_route_async *as, vmdb_route_job **job);
/* Whether the job waits for its write (wake comes later). */
bool vmdb_route_pending(const vmdb_route_job *job);
/* Whether vmdb_route_finish may block (the write waits for its anchor on a
 * BATCH_COMMIT_SIZE boundary): finish it on a thread that may. */
bool vmdb_route_finish_blocks(const vmdb_route_job *job);
/* Completes the job (a pending write: after wake) and renders its answer as
 * vmdb_route_run does; frees the job. */
int vmdb_route_finish(vmdb_route_job *job, vmdb_buf *body, int *status, const char **ctype);

/* The OpenAPI document embedded at build time (openapi_data.c). */
extern const unsigned char vmdb_openapi_json[];
extern const size_t vmdb_openapi_json_len;

#endif
