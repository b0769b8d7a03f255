/*
 * Rendering: typed engine results into the JSON of the API's answers, and
 * the one table from failure kind to HTTP status and error code. Members
 * are written in RFC 8785 order (sorted keys), as every answer of the seed
 * is, and strings with the same escaping as the hashed text.
 *
 * Every function appends to `out` and returns 0, VMDB_ENOMEM or
 * VMDB_ELIMIT; on failure `out` may hold a partial document, which the
 * caller discards.
 */
#ifndef VMDB_SERVER_RENDER_H
#define VMDB_SERVER_RENDER_H

#include "server/server.h"

/* The HTTP status and error code of a failure kind (VMDB_FAIL_NONE: 200
 * and NULL). */
int vmdb_render_status(vmdb_fail_kind kind);
const char *vmdb_render_code(vmdb_fail_kind kind);

/* The whole response body for `r`: {"success":true,"data":...},
 * {"success":false,"code":...,"data":...,"error":...}, or the bare data.
 * *status gets the HTTP status. */
int vmdb_render_envelope(vmdb_buf *out, const vmdb_reply *r, int *status);

/* The `data` of a failure whose kind carries details (integrity ids, the
 * two roots, field errors); nothing for the others. */
int vmdb_render_fail_data(vmdb_buf *out, const vmdb_fail *f);
/* A JSON array of field errors (the seed's FieldError objects). */
int vmdb_render_field_errors(vmdb_buf *out, const vmdb_field_errors *e);

/* Results. `echo` (may be NULL): JSON text answered as `ids` instead of the
 * rows' ids (POST /api/execute's read_batch echoes the request's). */
int vmdb_render_write(vmdb_buf *out, vmdb_wkind kind, const vmdb_write_result *r);
int vmdb_render_read_batch(vmdb_buf *out, const vmdb_read_result *r, const char *echo);
int vmdb_render_read_latest(vmdb_buf *out, const vmdb_read_result *r, unsigned limit);
int vmdb_render_apply_schema(vmdb_buf *out, const vmdb_admin_result *r);
int vmdb_render_clear(vmdb_buf *out, const vmdb_admin_result *r);
int vmdb_render_repair(vmdb_buf *out, const vmdb_admin_result *r);
/* The diff of a repair (PROTOCOL.md §14): {"changes":[...],"count":n,
 * "diff_root":hex,"listed":k,"old_root":hex}. */
int vmdb_render_repair_diff(vmdb_buf *out, const vmdb_admin_result *r);
int vmdb_render_migrate(vmdb_buf *out, const vmdb_admin_result *r);
int vmdb_render_health(vmdb_buf *out, const vmdb_health *h);
int vmdb_render_schema(vmdb_buf *out, const vmdb_schema_info *s);
int vmdb_render_identity(vmdb_buf *out, const vmdb_identity_info *id);
int vmdb_render_roots_latest(vmdb_buf *out, const vmdb_roots_info *r);
int vmdb_render_root(vmdb_buf *out, const vmdb_roots_info *r);
/* GET /api/roots/{seq}/transition: {"header", "kind", "proof" (§4 JSON
 * form), "record"} (PROTOCOL.md §14.2). */
int vmdb_render_transition(vmdb_buf *out, const vmdb_transition_info *r);
int vmdb_render_roots_proof(vmdb_buf *out, const vmdb_history_proof *p);

#endif
