/*
 * GET /metrics: the HTTP counters this file's component owns (requests by
 * route template, method and status; latency by route) and the rendering
 * of everything in the Prometheus text format 0.0.4, the engine's gauges
 * included (store/result.h's vmdb_metrics_info). Counting is lock-free
 * (relaxed atomics in fixed arrays), so any request thread may count.
 */
#ifndef VMDB_SERVER_METRICS_H
#define VMDB_SERVER_METRICS_H

#include <stdint.h>

#include "server/server.h"

/* Route slots besides vmdb_routes[] and vmdb_route_root_by_seq. */
#define VMDB_METRICS_ROUTE_ASSET (-2) /* /swagger-ui/{file} */
#define VMDB_METRICS_ROUTE_NONE (-1)  /* no route matched */

#define VMDB_METRICS_CTYPE "text/plain; version=0.0.4; charset=utf-8"

/* The HTTP counters of one server (opaque; vmdb_http owns them). */
typedef struct vmdb_metrics vmdb_metrics;

/* Zeroed counters. *out is the caller's (vmdb_metrics_free). VMDB_ENOMEM. */
int vmdb_metrics_new(vmdb_metrics **out);
/* Accepts NULL. */
void vmdb_metrics_free(vmdb_metrics *m);
/* The slot of a route of vmdb_routes[] or vmdb_route_root_by_seq. */
int vmdb_metrics_route(const vmdb_route *rt);
/* Counts one answered request: its route slot, method, HTTP status and the
 * microseconds from its headers to its answer. */
void vmdb_metrics_request(vmdb_metrics *m, int route, const char *method, int status,
                          uint64_t micros);
/* The exposition of every metric. 0 or VMDB_ENOMEM. */
int vmdb_metrics_render(vmdb_buf *out, vmdb_metrics *m, vmdb_engine *e);
/* The handler of GET /metrics. */
int vmdb_metrics_handler(vmdb_route_ctx *c, vmdb_reply *out);

#endif
