/*
 * Failures: setting them, and the one place where a PostgreSQL SQLSTATE
 * becomes a failure kind with a message a client may see.
 */
#include "store/result.h"

#include "db/pg.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The vmdb_err a failure kind is returned as. */
static int err_of(vmdb_fail_kind k)
{
    switch (k) {
    case VMDB_FAIL_NONE:
        return 0;
    case VMDB_FAIL_INTERNAL:
        return VMDB_ENOMEM;
    case VMDB_FAIL_DATABASE:
    case VMDB_FAIL_DB_UNAVAILABLE:
    case VMDB_FAIL_COMMIT_UNKNOWN:
        return VMDB_EIO;
    case VMDB_FAIL_WRITES_UNAVAILABLE:
    case VMDB_FAIL_ROLLBACK_DETECTED:
    case VMDB_FAIL_HISTORY_BROKEN:
        return VMDB_EBUSY;
    case VMDB_FAIL_INTEGRITY:
        return VMDB_EVERIFY;
    case VMDB_FAIL_NOT_FOUND:
    case VMDB_FAIL_MODEL_NOT_REGISTERED:
    case VMDB_FAIL_ROUTE_NOT_FOUND:
        return VMDB_ENOTFOUND;
    case VMDB_FAIL_PAYLOAD_TOO_LARGE:
    case VMDB_FAIL_TOO_MANY_IDS:
        return VMDB_ELIMIT;
    case VMDB_FAIL_BODY_SHAPE:
    case VMDB_FAIL_BODY_SYNTAX:
        return VMDB_EPARSE;
    default:
        return VMDB_EINVAL;
    }
}

int vmdb_fail_err(const vmdb_fail *f)
{
    return err_of(f->kind);
}

int vmdb_fail_set(vmdb_fail *f, vmdb_fail_kind kind, const char *fmt, ...)
{
    va_list ap;
    memset(f, 0, sizeof *f);
    f->kind = kind;
    va_start(ap, fmt);
    vsnprintf(f->msg, sizeof f->msg, fmt, ap);
    va_end(ap);
    return err_of(kind);
}

int vmdb_fail_sqlstate(vmdb_fail *f, const char *s)
{
    /* A timeout, no SQLSTATE (the connection failed), class 08 (connection
     * exception) and the server going away under the statement (57P0x) are
     * the same for the client: try again later, nothing was written. */
    if (s && (!strcmp(s, "57014") || !strcmp(s, "55P03")))
        return vmdb_fail_set(f, VMDB_FAIL_DB_UNAVAILABLE, "database statement timed out");
    if (vmdb_pg_sqlstate_unavailable(s))
        return vmdb_fail_set(f, VMDB_FAIL_DB_UNAVAILABLE, "database unavailable");
    if (!strcmp(s, "23505"))
        return vmdb_fail_set(f, VMDB_FAIL_CONSTRAINT, "unique constraint violated");
    if (!strcmp(s, "23502"))
        return vmdb_fail_set(f, VMDB_FAIL_CONSTRAINT,
                             "not-null constraint violated (a required column is missing or null)");
    if (!strcmp(s, "23503"))
        return vmdb_fail_set(f, VMDB_FAIL_CONSTRAINT, "foreign key constraint violated");
    if (!strncmp(s, "23", 2))
        return vmdb_fail_set(f, VMDB_FAIL_CONSTRAINT, "constraint violated");
    if (!strcmp(s, "21000"))
        return vmdb_fail_set(f, VMDB_FAIL_DUPLICATE_ID,
                             "the same key appears twice in one request");
    if (!strncmp(s, "22", 2) || !strcmp(s, "42804"))
        return vmdb_fail_set(f, VMDB_FAIL_INVALID_VALUE,
                             "a value was refused by the database (wrong format or out of range)");
    if (!strcmp(s, "42883")) /* say, a where or order_by on a json column */
        return vmdb_fail_set(f, VMDB_FAIL_INVALID_VALUE,
                             "the database cannot compare or order values of that column's type");
    if (!strcmp(s, "54000")) /* say, a ~3 KB value in a unique or key column's btree index */
        return vmdb_fail_set(f, VMDB_FAIL_INVALID_VALUE,
                             "a value is too large for the database (a value in a unique or "
                             "primary-key column must fit an index entry, about 2700 bytes)");
    return vmdb_fail_set(f, VMDB_FAIL_DATABASE, "database error (details are in the server log)");
}

int vmdb_fail_integrity(vmdb_fail *f, const char *const *ids, size_t nids)
{
    int rc = vmdb_fail_set(f, VMDB_FAIL_INTEGRITY,
                           "Proof verification failed - data integrity cannot be verified");
    f->ids = ids;
    f->nids = nids;
    return rc;
}

int vmdb_row_set(vmdb_row *row, vmdb_arena *ar, const char *id, const vmdb_buf *jcs,
                 const uint8_t key[32], const uint8_t value[32])
{
    row->id = vmdb_arena_strndup(ar, id, strlen(id));
    row->json = vmdb_arena_strndup(ar, (const char *)jcs->ptr, jcs->len);
    row->json_len = jcs->len;
    memcpy(row->key, key, 32);
    memcpy(row->value, value, 32);
    return row->id && row->json ? 0 : VMDB_ENOMEM;
}
