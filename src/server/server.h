/*
 * The HTTP side of vmdb serve: libmicrohttpd with an epoll thread pool,
 * request bodies buffered under a hard cap, routing, the seed's response
 * envelope, and the route handlers that parse and validate requests before
 * handing them to the engine. Knows nothing of SQL.
 */
#ifndef VMDB_SERVER_SERVER_H
#define VMDB_SERVER_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "store/engine.h"

#define VMDB_MAX_BODY ((size_t)2 << 20) /* the seed's 2 MiB limit */
#define VMDB_MAX_IDS 1000

typedef struct vmdb_http vmdb_http;

/* Open connections at most; more wait in the listen backlog. */
#define VMDB_HTTP_MAX_CONNECTIONS 1024

typedef struct vmdb_http_config {
    const char *listen;      /* host:port */
    unsigned threads;        /* 0: a thread per connection; N: a pool of N epoll threads */
    const char *swagger_dir; /* swagger-ui-dist directory (may not exist) */
} vmdb_http_config;

/* Starts serving. Errors: VMDB_EINVAL (bad listen address), VMDB_EIO
 * (cannot bind). */
int vmdb_http_start(vmdb_http **out, const vmdb_http_config *cfg, vmdb_engine *e);
/* Stops accepting, finishes running requests and frees (accepts NULL). */
void vmdb_http_stop(vmdb_http *h);

/* ---- handlers (handlers.c) ---------------------------------------------- */

typedef struct vmdb_req {
    const char *method;
    const char *content_type; /* may be NULL */
    const uint8_t *body;
    size_t body_len;
    bool body_too_big;
    const char *model; /* the {model} path segment, NULL for other routes */
} vmdb_req;

typedef void (*vmdb_handler)(vmdb_engine *e, const vmdb_req *r, vmdb_answer *ans);

void vmdb_h_health(vmdb_engine *e, const vmdb_req *r, vmdb_answer *ans);
void vmdb_h_execute(vmdb_engine *e, const vmdb_req *r, vmdb_answer *ans);
void vmdb_h_create(vmdb_engine *e, const vmdb_req *r, vmdb_answer *ans);
void vmdb_h_upsert(vmdb_engine *e, const vmdb_req *r, vmdb_answer *ans);
void vmdb_h_delete(vmdb_engine *e, const vmdb_req *r, vmdb_answer *ans);
void vmdb_h_read_batch(vmdb_engine *e, const vmdb_req *r, vmdb_answer *ans);
void vmdb_h_read_latest(vmdb_engine *e, const vmdb_req *r, vmdb_answer *ans);
void vmdb_h_apply_schema(vmdb_engine *e, const vmdb_req *r, vmdb_answer *ans);
void vmdb_h_clear(vmdb_engine *e, const vmdb_req *r, vmdb_answer *ans);
void vmdb_h_migrate(vmdb_engine *e, const vmdb_req *r, vmdb_answer *ans);
void vmdb_h_repair(vmdb_engine *e, const vmdb_req *r, vmdb_answer *ans);
void vmdb_h_schema(vmdb_engine *e, const vmdb_req *r, vmdb_answer *ans);
void vmdb_h_identity(vmdb_engine *e, const vmdb_req *r, vmdb_answer *ans);
void vmdb_h_roots_latest(vmdb_engine *e, const vmdb_req *r, vmdb_answer *ans);
/* r->model carries the {seq} path segment. */
void vmdb_h_roots_get(vmdb_engine *e, const vmdb_req *r, vmdb_answer *ans);

/* The OpenAPI document embedded at build time (openapi_data.c). */
extern const unsigned char vmdb_openapi_json[];
extern const size_t vmdb_openapi_json_len;

#endif
